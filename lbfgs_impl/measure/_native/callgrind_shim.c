/* Client requests for valgrind's callgrind, callable through ctypes.
 *
 * Instrumentation is switched on and off at exactly these calls (unlike
 * callgrind_control, which acts at the next poll point). Outside valgrind
 * every request is a no-op costing a few instructions.
 * lbfgs_bench_cpuid reads the CPU features the process sees (valgrind's when under it).
 */
#include <valgrind/callgrind.h>

int lbfgs_bench_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }

void lbfgs_bench_start(void) {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void lbfgs_bench_stop(const char *dump_name) {
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_DUMP_STATS_AT(dump_name);
}

/* CPUID as this process sees it (valgrind's virtual CPU when run under valgrind). */
#include <cpuid.h>
void lbfgs_bench_cpuid(unsigned leaf, unsigned subleaf, unsigned out[4]) {
    out[0] = out[1] = out[2] = out[3] = 0;
    if (leaf >= 0x80000000u ? __get_cpuid_max(0x80000000u, 0) < leaf : __get_cpuid_max(0, 0) < leaf) return;
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
}
