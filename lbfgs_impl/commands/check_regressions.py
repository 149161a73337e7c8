"""``lbfgs-bench check-regressions``: arguments and body (the comparison is :mod:`lbfgs_impl.tracking`)."""

from __future__ import annotations

import argparse
import math
import sys
import traceback

from lbfgs_impl.commands.common import (
    PROG,
    UsageError,
    check_output,
    fraction,
    positive_int,
    progress,
    write_output,
)

NAME = "check-regressions"
HELP = "compare two pytest-benchmark JSON files, or tonight with a history: noise-aware time, counts, quality"
DESCRIPTION = (
    "Exit 0: nothing found; 1: a regression; 2: a signal not comparable (or bad input, or no baseline); "
    "3: an internal error. The --report file is rewritten before any check, never left from an earlier run."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # long function: one flat list of the gate's options, each a few lines; splitting it would scatter them.
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="BASELINE CURRENT: two pytest-benchmark JSON files; with --history, [CURRENT] only "
        "(default: the newest night of the history)",
    )
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="a pytest-benchmark storage folder (NNNN_*.json, as --benchmark-storage writes them, possibly "
        "in a machine-id subfolder): tonight is compared with the last usable night and with a reference "
        "(the median of the window's quiet nights), and step detection runs over each count series; "
        "exit 2 when it holds no usable night (no baseline)",
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        default=7,
        help="with --history: how many past usable nights the reference is drawn from (default: 7)",
    )
    parser.add_argument(
        "--threshold", type=fraction, default=0.10, help="median slowdown that can alert (default: 0.10)"
    )
    parser.add_argument(
        "--alpha",
        type=fraction,
        default=0.05,
        help="significance of the rank test on raw samples (default: 0.05)",
    )
    parser.add_argument(
        "--count-tolerance",
        type=fraction,
        default=0.05,
        help="allowed rise of iterations/evals (default: 0.05)",
    )
    parser.add_argument(
        "--quality-factor", type=float, default=10.0, help="allowed factor on grad norm/loss (default: 10)"
    )
    parser.add_argument(
        "--instructions-threshold",
        type=fraction,
        default=0.005,
        help="instruction-count change that can alert, at least (default: 0.005; raised to 3x the "
        "baseline's repeat spread when that is larger, at most --instructions-cap)",
    )
    parser.add_argument(
        "--instructions-cap",
        type=fraction,
        default=0.05,
        help="the instruction limit never exceeds this, whatever the baseline's spread (default: 0.05)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="a benchmark of the baseline missing from the current run is listed, not a regression "
        "(for the night after a benchmark was removed on purpose)",
    )
    parser.add_argument(
        "--time-baseline",
        metavar="PATH",
        help="pytest-benchmark JSON of the last good run on this machine: wall time is compared with it "
        "(default: BASELINE, when it ran on the same machine)",
    )
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="also write the Markdown report here (atomically; missing directories are created)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="re-run flagged time regressions A/B from git worktrees; alert only on those that reproduce",
    )
    parser.add_argument("--repo", default=".", help="git repository for --confirm (default: .)")
    parser.add_argument(
        "--baseline-rev", help="baseline commit for --confirm (default: from the baseline file)"
    )
    parser.add_argument("--current-rev", help="current commit for --confirm (default: from the current file)")
    parser.add_argument("--confirm-rounds", type=positive_int, default=3, help="A/B rounds (default: 3)")
    parser.add_argument("--perf-cpu", default="first", help="CPU for the re-runs (default: first allowed)")
    parser.add_argument(
        "--perf-size",
        default="full",
        choices=("quick", "full", "mgh"),
        help="perf grid the re-runs and re-counts select from (default: full, which holds quick)",
    )


def _load(args: argparse.Namespace):
    from lbfgs_impl.tracking.regressions import DataError, Thresholds, compare_runs, load_run

    thresholds = Thresholds(
        threshold=args.threshold,
        alpha=args.alpha,
        count_tolerance=args.count_tolerance,
        quality_factor=args.quality_factor,
        instructions=args.instructions_threshold,
        instructions_cap=max(args.instructions_cap, args.instructions_threshold),
    )
    try:
        time_baseline = load_run(args.time_baseline) if args.time_baseline else None
        if args.history:
            from lbfgs_impl.tracking.history import check_series

            if len(args.files) > 1:
                raise UsageError("with --history, give at most one file (tonight's run)")
            tonight = args.files[0] if args.files else None
            series = check_series(
                args.history,
                tonight,
                thresholds,
                window=args.window,
                time_baseline=time_baseline,
                allow_missing=args.allow_missing,
            )
            return (*series, thresholds)
        if len(args.files) != 2:
            raise UsageError(
                f"expected BASELINE CURRENT (two files) or --history PATH, got {len(args.files)} file(s)"
            )
        baseline, current = load_run(args.files[0]), load_run(args.files[1])
        comparison = compare_runs(
            baseline, current, thresholds, time_baseline=time_baseline, allow_missing=args.allow_missing
        )
    except DataError as exc:
        raise UsageError(str(exc)) from None
    return baseline, current, time_baseline, comparison, thresholds


def _revision(args: argparse.Namespace, which: str, run) -> str:
    rev = getattr(args, f"{which}_rev") or run.commit_info.get("id")
    if not rev:
        raise UsageError(f"--confirm needs --{which}-rev: the {which} file names no commit")
    return rev


def _recount(args, baseline, current, time_baseline, thresholds, comparison):
    """Counts from another valgrind/image: re-count the baseline commit tonight, or keep 'not compared'."""
    from lbfgs_impl.tracking.confirm import ConfirmationError
    from lbfgs_impl.tracking.recount import counted_benchmarks, recount_baseline
    from lbfgs_impl.tracking.regressions import compare_runs

    mismatch = comparison.environment_mismatch
    node_ids = [n for n in counted_benchmarks(baseline) if n in current.benchmarks]
    try:
        recounted = recount_baseline(
            node_ids,
            repo=args.repo,
            baseline_rev=_revision(args, "baseline", baseline),
            size=args.perf_size,
            cpu=args.perf_cpu,
            progress=progress,
        )
    except ConfirmationError as exc:
        note = f"Instruction counts not compared ({mismatch}); re-counting the baseline failed: {exc}"
        comparison.confirm_notes.append(note)
        return comparison
    redone = compare_runs(
        baseline, current, thresholds, time_baseline=time_baseline, instruction_baseline=recounted,
        allow_missing=comparison.missing_allowed,
    )  # fmt: skip
    # with --history: the series' sections and its findings against the reference (same environment) stay
    redone.sections = comparison.sections
    redone.regressions += [f for f in comparison.regressions if f.kind == "instructions vs reference"]
    redone.confirm_notes.append(
        f"Instruction counts: the baseline's were taken under another environment ({mismatch}); "
        f"the baseline commit was re-counted tonight ({recounted.path}) and compared with that."
    )
    return redone


def _placeholder(args: argparse.Namespace, why: str) -> None:
    """Rewrite ``--report`` with why no verdict was reached (never leave last night's report in place)."""
    from lbfgs_impl.outputs import OutputError, atomic_write_text

    if args.report:
        try:
            atomic_write_text(args.report, f"# Benchmark regression check\n\n**No verdict:** {why}\n")
        except OutputError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Exit 0 nothing found, 1 a regression, 2 not comparable or bad input, 3 an internal error."""
    from lbfgs_impl.outputs import check_writable

    if args.report:
        check_output(check_writable, args.report)
        _placeholder(args, "the check did not finish (interrupted?).")
    try:
        return _check(args)
    except UsageError as exc:
        _placeholder(args, f"not comparable or bad input (exit 2): {exc}")
        raise
    except Exception as exc:  # a crash is never read as a regression (exit 1) nor left as a stale pass
        traceback.print_exc()
        line = f"{type(exc).__name__}: {exc}"
        print(f"{PROG}: internal error: {line}", file=sys.stderr)
        _placeholder(args, f"internal error (exit 3): {line}")
        return 3


def _check(args: argparse.Namespace) -> int:
    from lbfgs_impl.outputs import atomic_write_text
    from lbfgs_impl.tracking.confirm import ConfirmationError, confirm_time_regressions
    from lbfgs_impl.tracking.regressions import hold_time_only, render_report

    if not 1.0 < args.quality_factor < math.inf:
        raise UsageError(f"--quality-factor must be a finite number > 1, got {args.quality_factor}")
    baseline, current, time_baseline, comparison, thresholds = _load(args)
    if args.confirm and comparison.environment_mismatch:
        comparison = _recount(args, baseline, current, time_baseline, thresholds, comparison)
    if args.confirm and any(f.kind == "time" for f in comparison.regressions):
        try:
            confirm_time_regressions(
                comparison,
                repo=args.repo,
                baseline_rev=_revision(args, "baseline", comparison.time_baseline or baseline),
                current_rev=_revision(args, "current", current),
                rounds=args.confirm_rounds,
                cpu=args.perf_cpu,
                progress=progress,
                size=args.perf_size,
            )
        except ConfirmationError as exc:
            raise UsageError(f"--confirm: {exc}") from None
    elif not args.confirm:
        hold_time_only(comparison)
    report = render_report(comparison)
    print(report, end="")
    verdict = comparison.exit_code()
    if args.report and write_output(atomic_write_text, args.report, report):
        return 3
    return verdict
