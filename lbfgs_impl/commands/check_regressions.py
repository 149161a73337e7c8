"""``lbfgs-bench check-regressions``: arguments and body (the comparison is :mod:`lbfgs_impl.tracking`)."""

from __future__ import annotations

import argparse

from lbfgs_impl.commands.common import (
    UsageError,
    check_output,
    fraction,
    positive_int,
    progress,
    write_output,
)

NAME = "check-regressions"
HELP = "compare two pytest-benchmark JSON files: noise-aware time and exact quality checks"
DESCRIPTION = "Exit 0: nothing regressed; 1: something regressed; 2: usage or data error."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="pytest-benchmark JSON of the baseline run")
    parser.add_argument("current", help="pytest-benchmark JSON of the current run")
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
        default=0.02,
        help="instruction-count rise that can alert, at least (default: 0.02; raised to 3x the "
        "measured repeat spread when that is larger)",
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


def run(args: argparse.Namespace) -> int:
    from lbfgs_impl.outputs import atomic_write_text, check_writable
    from lbfgs_impl.tracking.confirm import ConfirmationError, confirm_time_regressions
    from lbfgs_impl.tracking.regressions import DataError, Thresholds, compare_runs, load_run, render_report

    if not args.quality_factor > 1.0:
        raise UsageError(f"--quality-factor must be > 1, got {args.quality_factor}")
    if args.report:
        check_output(check_writable, args.report)
    thresholds = Thresholds(
        threshold=args.threshold,
        alpha=args.alpha,
        count_tolerance=args.count_tolerance,
        quality_factor=args.quality_factor,
        instructions=args.instructions_threshold,
    )
    try:
        baseline, current = load_run(args.baseline), load_run(args.current)
        comparison = compare_runs(baseline, current, thresholds)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if args.confirm and any(f.kind == "time" for f in comparison.regressions):
        base_rev = args.baseline_rev or baseline.commit_info.get("id")
        cur_rev = args.current_rev or current.commit_info.get("id")
        if not base_rev or not cur_rev:
            raise UsageError("--confirm needs --baseline-rev/--current-rev: the files name no commit")
        try:
            confirm_time_regressions(
                comparison,
                repo=args.repo,
                baseline_rev=base_rev,
                current_rev=cur_rev,
                rounds=args.confirm_rounds,
                cpu=args.perf_cpu,
                progress=progress,
            )
        except ConfirmationError as exc:
            raise UsageError(f"--confirm: {exc}") from None
    report = render_report(comparison)
    print(report, end="")
    verdict = 1 if comparison.regressions else 0
    if args.report and write_output(atomic_write_text, args.report, report):
        return 2
    return verdict
