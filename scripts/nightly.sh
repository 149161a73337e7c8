#!/usr/bin/env bash
# The nightly regression job. .github/workflows/nightly.yml runs it; so does `tox -e nightly`.
#
#   1. the results store (a git branch, RESULTS_BRANCH, default benchmark-results, of RESULTS_REMOTE,
#      default this repository's origin) is checked out    -> $NIGHTLY_DIR/history
#   2. perf suite, pinned to one CPU, raw samples kept, instruction counts under callgrind
#      (INSTRUCTIONS=0 turns them off)                        -> $NIGHTLY_DIR/current.json
#   3. lbfgs-bench check-regressions --history: tonight against the last usable night (wall time
#      against the last one from this CPU model) and against a reference of past quiet nights,
#      confirmed by A/B re-runs                               -> $NIGHTLY_DIR/report.md
#   4. tonight is appended to the store with the verdict; only a night that passed serves as a
#      later baseline.
#
# Exit (and $NIGHTLY_DIR/issue-title.txt, the title of the issue the workflow opens):
#   0 nothing found; 1 a regression; 2 not comparable, or no baseline (an empty store: this night
#   is checked against itself and, when complete, seeds the history; never a green first night);
#   3 an error (the perf suite failed, the store could not be read or written, the check crashed).
# The report is rewritten before anything runs, so a stale one is never read as tonight's.
#
# A night that exits 2 never becomes a baseline; when the baseline itself is what cannot be compared
# (a counting environment that changed for good, a signal the old nights never recorded), RESEED=1
# runs one night as a first night: checked against itself, stored as the new baseline, exit 2.
#
# Environment: NIGHTLY_DIR (default .nightly), RESULTS_REMOTE, RESULTS_BRANCH, RESEED, PERF_SIZE (default
# full), PERF_CPU (default first), PERF_ARGS (extra pytest options, e.g. '-k "steady and rosenbrock"'),
# CHECK_ARGS (extra check-regressions options, e.g. "--threshold 0.15"), CONFIRM (default 1; 0 skips
# the A/B re-runs and the re-count of the baseline under another valgrind/image), INSTRUCTIONS
# (default 1; 0 skips the callgrind counts, which then fails every night whose baseline has them).
set -euo pipefail

dir=${NIGHTLY_DIR:-.nightly}
size=${PERF_SIZE:-full}
cpu=${PERF_CPU:-first}
branch=${RESULTS_BRANCH:-benchmark-results}
# Fail before an hour of benchmarks, not after: the results must have somewhere to go.
if ! { mkdir -p "$dir" && touch "$dir/.write-check" && rm -f "$dir/.write-check"; } 2>/dev/null; then
    echo "nightly: cannot write to NIGHTLY_DIR=$dir; nothing was run" >&2
    exit 2
fi
remote=${RESULTS_REMOTE:-$(git remote get-url origin 2>/dev/null || true)}
if [ -z "$remote" ]; then
    echo "nightly: no results store: set RESULTS_REMOTE (a git URL or path); nothing was run" >&2
    exit 2
fi

finish() {  # exit-code title [report line]: the night's outcome, where the workflow reads it
    echo "$2" > "$dir/issue-title.txt"
    if [ -n "${3:-}" ]; then
        printf '# Benchmark regression check\n\n**No verdict:** %s\n' "$3" > "$dir/report.md"
    fi
    echo "nightly: $2 (exit $1)"
    exit "$1"
}
title_of() {
    case $1 in
        0) echo "Nightly benchmarks: no regression" ;;
        1) echo "Nightly benchmarks: performance regression" ;;
        2) echo "Nightly benchmarks: not comparable" ;;
        *) echo "Nightly benchmarks: error, no verdict" ;;
    esac
}
rm -f "$dir/current.json" "$dir/issue-title.txt"
printf '# Benchmark regression check\n\n**No verdict:** the nightly did not finish.\n' > "$dir/report.md"
echo "$(title_of 3)" > "$dir/issue-title.txt"

usable=$(python -m lbfgs_impl.tracking.store fetch "$remote" --branch "$branch" "$dir/history") ||
    finish 3 "$(title_of 3)" "the results store ($remote, branch $branch) could not be read."

# PERF_ARGS and CHECK_ARGS are split as a shell would split them (quotes kept: -k "a or b" is one
# expression), by Python's shlex, never by eval; one that does not parse stops the night here.
# shellcheck source=scripts/split_args.sh
source "$(dirname "${BASH_SOURCE[0]}")/split_args.sh"
split_into perf_args "${PERF_ARGS:-}"
split_into check_args "${CHECK_ARGS:-}"
instructions=--perf-instructions
[ "${INSTRUCTIONS:-1}" = 0 ] && instructions=
rc=0
python -m pytest perf -p no:cacheprovider --perf-size "$size" --perf-cpu "$cpu" $instructions \
    --perf-first-call-rounds 5 --benchmark-min-rounds 10 \
    --benchmark-save-data --benchmark-json "$dir/current.json.tmp" "${perf_args[@]}" || rc=$?
if [ "$rc" != 0 ]; then  # a failing suite is an error, not a regression: nothing was compared
    finish 3 "Nightly benchmarks: the perf suite failed, no verdict" \
        "the perf suite failed (pytest exit $rc); nothing was compared. See the job's log."
fi
mv "$dir/current.json.tmp" "$dir/current.json"

store_night() {  # exit-code baseline(yes/no) outcome [--seed]
    python -m lbfgs_impl.tracking.store append "$remote" --branch "$branch" "$dir/current.json" \
        --exit "$1" --baseline "$2" --outcome "$3" ${4:+"$4"} ||
        finish 3 "$(title_of 3)" "tonight's results could not be stored ($remote, branch $branch)."
}

if [ "$usable" = 0 ] || [ "${RESEED:-0}" = 1 ]; then
    why="the results store has no usable night"
    [ "$usable" != 0 ] && why="RESEED=1: the history's nights are not compared with tonight"
    echo "nightly: no baseline ($why); checking that this run has every signal it asked for"
    rc=0
    lbfgs-bench check-regressions "$dir/current.json" "$dir/current.json" \
        --report "$dir/report.md" "${check_args[@]}" || rc=$?
    case $rc in
        0) store_night 2 yes "no baseline; seeded the history" --seed
           finish 2 "Nightly benchmarks: no baseline (this night seeds the history)" ;;
        1|2) store_night 2 no "no baseline; this run lacks a signal"
           finish 2 "Nightly benchmarks: no baseline, and this run lacks a signal" ;;
        *) finish 3 "$(title_of 3)" ;;
    esac
fi

confirm=--confirm
[ "${CONFIRM:-1}" = 0 ] && confirm=
rc=0
# shellcheck disable=SC2086
lbfgs-bench check-regressions --history "$dir/history" "$dir/current.json" \
    --report "$dir/report.md" $confirm --perf-cpu "$cpu" --perf-size "$size" "${check_args[@]}" || rc=$?
case $rc in
    0) store_night 0 yes "no regression" ;;
    1|2) store_night "$rc" no "$(title_of "$rc")"; echo "nightly: see $dir/report.md; this night is no baseline" ;;
    *) store_night "$rc" no "error" ;;
esac
finish "$rc" "$(title_of "$rc")"
