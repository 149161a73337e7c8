"""``lbfgs-bench report``: arguments and body."""

from __future__ import annotations

import argparse
import sys

from lbfgs_impl.commands.common import (
    PROG,
    UsageError,
    add_pin_arguments,
    check_output,
    pin_request,
    problem_n,
    progress,
)

NAME = "report"
HELP = (
    "when does each solver win? scaling, floor, break-even, cache, batching, convergence, robustness, "
    "where an iteration goes"
)
DESCRIPTION = (
    "Runs every analysis and writes report.md, report.json and one PNG per figure into "
    "OUTDIR (created if missing). --quick measures sizes up to n = 1000 and batches up to 64 (peers "
    "included); the full report sizes up to n = 10^5 and batches up to 256, several times longer. "
    "A progress bar per stage gives its ETA."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "outdir", metavar="OUTDIR", help="where to write report.md, report.json and the figures"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and batches (the quick plan)")
    parser.add_argument("--plan", choices=["quick", "full", "tiny"], help=argparse.SUPPRESS)  # tiny: tests
    parser.add_argument(
        "--problem",
        help="also measure this problem (a registered name, or module:attr naming a function f(x) -> "
        "scalar, a factory (n) -> Problem or a Problem) in the scaling and break-even stages, beside the "
        "plan's cases",
    )
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="its dimension, >= 2 (default: 100 for a registered problem, else its own)",
    )
    add_pin_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lbfgs_impl.commands.report.build import build_report
    from lbfgs_impl.commands.report.plans import PLANS, with_problem
    from lbfgs_impl.commands.report.sections import SECTIONS as STAGE_NAMES
    from lbfgs_impl.measure.timing import pinned
    from lbfgs_impl.outputs import OutputError, check_writable

    outdir = Path(args.outdir)
    if args.n is not None and not args.problem:
        raise UsageError("--n sizes the problem of --problem: give --problem too")
    plan = PLANS[args.plan or ("quick" if args.quick else "full")]
    if args.problem:
        try:  # built and checked now: a bad problem is one line before anything runs
            plan = with_problem(plan, args.problem, problem_n(args.problem, args.n))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    check_output(check_writable, str(outdir / "report.md"))
    with pinned(pin_request(args)) as pinning:
        progress(f"report ({plan.name}): {', '.join(STAGE_NAMES)}")
        try:
            report, written = build_report(outdir, plan, pinning=pinning, progress=progress)
        except OutputError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
    failed = [s.name for s in report.stages.values() if s.error or s.figure_error]
    for name in failed:
        stage = report.stages[name]
        what = stage.error or f"figure: {stage.figure_error}"
        progress(f"stage {name} failed (recorded in report.md): {what}")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 1 if failed else 0
