#!/usr/bin/env bash
# The nightly regression job. .github/workflows/nightly.yml runs it; so does `tox -e nightly`.
#
#   1. full perf suite, pinned to one CPU, raw samples kept, instruction counts
#      under callgrind (INSTRUCTIONS=0 turns them off)      -> $NIGHTLY_DIR/current.json
#   2. no baseline yet: the run becomes the baseline, exit 0
#   3. otherwise: lbfgs-bench check-regressions baseline current --confirm
#      (flagged time regressions are re-run A/B from git worktrees of both commits)
#      -> $NIGHTLY_DIR/report.md; exit 0 promotes current to baseline, exit 1 keeps the old one.
#
# Environment: NIGHTLY_DIR (default .nightly), PERF_SIZE (default full), PERF_CPU (default first),
# PERF_ARGS (extra pytest options, e.g. -k "steady"), CHECK_ARGS (extra check-regressions options,
# e.g. "--threshold 0.15"), CONFIRM (default 1; 0 alerts on the first comparison, without re-runs),
# INSTRUCTIONS (default 1; 0 skips the callgrind instruction counts).
set -euo pipefail

dir=${NIGHTLY_DIR:-.nightly}
size=${PERF_SIZE:-full}
cpu=${PERF_CPU:-first}
# Fail before an hour of benchmarks, not after: the results must have somewhere to go.
if ! { mkdir -p "$dir" && touch "$dir/.write-check" && rm -f "$dir/.write-check"; } 2>/dev/null; then
    echo "nightly: cannot write to NIGHTLY_DIR=$dir; nothing was run" >&2
    exit 2
fi

# shellcheck disable=SC2086  # PERF_ARGS and CHECK_ARGS are lists of options
instructions=--perf-instructions
[ "${INSTRUCTIONS:-1}" = 0 ] && instructions=
python -m pytest perf -p no:cacheprovider --perf-size "$size" --perf-cpu "$cpu" $instructions \
    --perf-first-call-rounds 5 --benchmark-min-rounds 10 \
    --benchmark-save-data --benchmark-json "$dir/current.json.tmp" ${PERF_ARGS:-}
mv "$dir/current.json.tmp" "$dir/current.json"

promote() {
    cp "$dir/current.json" "$dir/baseline.json.tmp"
    mv "$dir/baseline.json.tmp" "$dir/baseline.json"
}

if [ ! -f "$dir/baseline.json" ]; then
    echo "nightly: no baseline in $dir yet; this run becomes the baseline"
    promote
    exit 0
fi

confirm=--confirm
[ "${CONFIRM:-1}" = 0 ] && confirm=
rc=0
# shellcheck disable=SC2086
lbfgs-bench check-regressions "$dir/baseline.json" "$dir/current.json" \
    --report "$dir/report.md" $confirm --perf-cpu "$cpu" ${CHECK_ARGS:-} || rc=$?
case $rc in
    0) echo "nightly: no regression; the current run is the new baseline"; promote ;;
    1) echo "nightly: regression (see $dir/report.md); the baseline is kept" ;;
    *) echo "nightly: check-regressions failed with exit code $rc" ;;
esac
exit "$rc"
