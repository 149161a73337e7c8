#!/usr/bin/env bash
# The nightly regression job. .github/workflows/nightly.yml runs it; so does `tox -e nightly`.
#
#   1. perf suite, pinned to one CPU, raw samples kept, instruction counts under callgrind
#      (INSTRUCTIONS=0 turns them off)                        -> $NIGHTLY_DIR/current.json
#   2. no baseline yet: the run is checked against itself (every signal it asked for must be
#      there: a count that valgrind could not take is a finding), then becomes the baseline
#   3. otherwise: lbfgs-bench check-regressions baseline current --confirm, with
#      --time-baseline baselines/<this machine>.json when this CPU model (logical CPUs, arch)
#      has one; a night on a model without one says so and seeds it, other models' baselines
#      are kept -> $NIGHTLY_DIR/report.md
#   4. exit 0 promotes current to baseline.json and to baselines/<this machine>.json; any other
#      exit keeps both (a night not compared on every signal of the last one exits 1).
#
# Environment: NIGHTLY_DIR (default .nightly), PERF_SIZE (default full), PERF_CPU (default first),
# PERF_ARGS (extra pytest options, e.g. '-k "steady and rosenbrock"'), CHECK_ARGS (extra check-regressions options,
# e.g. "--threshold 0.15"), CONFIRM (default 1; 0 skips the A/B re-runs and the re-count of the
# baseline under another valgrind/image), INSTRUCTIONS (default 1; 0 skips the callgrind counts,
# which then fails every night whose baseline has them).
set -euo pipefail

dir=${NIGHTLY_DIR:-.nightly}
size=${PERF_SIZE:-full}
cpu=${PERF_CPU:-first}
# Fail before an hour of benchmarks, not after: the results must have somewhere to go.
if ! { mkdir -p "$dir/baselines" && touch "$dir/.write-check" && rm -f "$dir/.write-check"; } 2>/dev/null; then
    echo "nightly: cannot write to NIGHTLY_DIR=$dir; nothing was run" >&2
    exit 2
fi

# PERF_ARGS and CHECK_ARGS are split as a shell would split them (quotes kept: -k "a or b" is one
# expression), by Python's shlex, never by eval; one that does not parse stops the night here.
# shellcheck source=scripts/split_args.sh
source "$(dirname "${BASH_SOURCE[0]}")/split_args.sh"
split_into perf_args "${PERF_ARGS:-}"
split_into check_args "${CHECK_ARGS:-}"
instructions=--perf-instructions
[ "${INSTRUCTIONS:-1}" = 0 ] && instructions=
python -m pytest perf -p no:cacheprovider --perf-size "$size" --perf-cpu "$cpu" $instructions \
    --perf-first-call-rounds 5 --benchmark-min-rounds 10 \
    --benchmark-save-data --benchmark-json "$dir/current.json.tmp" "${perf_args[@]}"
mv "$dir/current.json.tmp" "$dir/current.json"

machine=$(python -c 'import sys; from lbfgs_impl.tracking.runs import load_run; print(load_run(sys.argv[1]).machine_key())' "$dir/current.json")
time_baseline="$dir/baselines/$machine.json"

promote() {
    cp "$dir/current.json" "$dir/baseline.json.tmp"
    mv "$dir/baseline.json.tmp" "$dir/baseline.json"
    cp "$dir/current.json" "$time_baseline.tmp"
    mv "$time_baseline.tmp" "$time_baseline"
}

rc=0
if [ ! -f "$dir/baseline.json" ]; then
    echo "nightly: no baseline in $dir yet; checking that this run has every signal it asked for"
    lbfgs-bench check-regressions "$dir/current.json" "$dir/current.json" \
        --report "$dir/report.md" "${check_args[@]}" || rc=$?
    case $rc in
        0) echo "nightly: this run becomes the baseline (and $machine's wall-time baseline)"; promote ;;
        *) echo "nightly: this run lacks a signal (see $dir/report.md); it does not become the baseline" ;;
    esac
    exit "$rc"
fi

time_args=()
if [ -f "$time_baseline" ]; then
    time_args=(--time-baseline "$time_baseline")
else
    echo "nightly: no wall-time baseline for $machine yet: wall time is not compared tonight and" \
        "this night seeds it (instructions and quality are compared with the last baseline)"
fi
confirm=--confirm
[ "${CONFIRM:-1}" = 0 ] && confirm=
# shellcheck disable=SC2086
lbfgs-bench check-regressions "$dir/baseline.json" "$dir/current.json" "${time_args[@]}" \
    --report "$dir/report.md" $confirm --perf-cpu "$cpu" --perf-size "$size" "${check_args[@]}" || rc=$?
case $rc in
    0) echo "nightly: no regression; the current run is the new baseline (and $machine's)"; promote ;;
    1) echo "nightly: regression or a signal not compared (see $dir/report.md); the baselines are kept" ;;
    *) echo "nightly: check-regressions failed with exit code $rc" ;;
esac
exit "$rc"
