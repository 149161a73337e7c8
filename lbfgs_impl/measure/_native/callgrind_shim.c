/* Client requests for valgrind's callgrind, callable through ctypes.
 *
 * Instrumentation is switched on and off at exactly these calls (unlike
 * callgrind_control, which acts at the next poll point). Outside valgrind
 * every request is a no-op costing a few instructions.
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
