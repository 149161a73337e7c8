"""``lbfgs-bench pitfalls``: arguments and body."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.common import (
    UsageError,
    add_pin_arguments,
    check_output,
    parse_problems,
    pin_request,
    positive_int,
    progress,
)

NAME = "pitfalls"
HELP = "the ways JAX timings go wrong (no block, compile counted, eager, recompiling closures), measured"
DESCRIPTION = (
    "Measures, side by side in one process, each common way of timing JAX wrongly next to the correct "
    "measurement of the same code: the timer stopped without block_until_ready, the first call timed "
    "as if steady, an eager or re-jitted step loop, closures that recompile every call (with JAX's own "
    "log), and SciPy driven by an un-jitted, split or float32 objective. Writes pitfalls.md, "
    "pitfalls.json and pitfalls.png into OUTDIR. About 2 minutes on 2 cores for the seed case."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lbfgs_impl.problems import problem_names

    parser.add_argument(
        "outdir",
        metavar="OUTDIR",
        nargs="?",
        default="pitfalls",
        help="where to write pitfalls.md, pitfalls.json and pitfalls.png (default: ./pitfalls)",
    )
    parser.add_argument(
        "--problem", default="rosenbrock", help=f"one of: {', '.join(problem_names())} (default: rosenbrock)"
    )
    parser.add_argument("--n", type=int, default=100, help="problem dimension, >= 2 (default: 100)")
    parser.add_argument("--maxiter", type=positive_int, default=1000, help="iteration limit (default: 1000)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 timed samples instead of 5, a shorter floor, 20 iterations of L-BFGS-B on the un-jitted "
        "objective instead of 40",
    )
    parser.add_argument("--plan", choices=["quick", "full", "tiny"], help=argparse.SUPPRESS)  # tiny: tests
    add_pin_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lbfgs_impl.outputs import check_writable

    parse_problems(args.problem)
    if args.n < 2:
        raise UsageError(f"problem dimension n must be an integer >= 2, got {args.n}")
    outdir = Path(args.outdir)
    check_output(check_writable, str(outdir / "pitfalls.json"))
    from lbfgs_impl.commands.pitfalls.runner import PLANS, measure
    from lbfgs_impl.measure.environment import collect_meta
    from lbfgs_impl.measure.timing import pinned
    from lbfgs_impl.solvers import SolverConfig

    t0, load_start = time.perf_counter(), _load_average()
    with pinned(pin_request(args)) as pinning:  # before JAX starts: XLA sizes its thread pool then
        from lbfgs_impl.problems import make_problem

        try:
            make_problem(args.problem, args.n)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        config = SolverConfig(maxiter=args.maxiter)
        doc = measure(
            args.problem, args.n, config, PLANS[args.plan or ("quick" if args.quick else "full")], progress
        )
        doc["meta"] = collect_meta(pinning)
    doc["wall_s"] = time.perf_counter() - t0
    doc["load_average"] = {"start": load_start, "end": _load_average()}
    progress(f"pitfalls took {doc['wall_s']:.0f} s (wall time; machine load included)")
    return write_all(doc, outdir)


def _load_average() -> list[float] | None:
    """The system's 1, 5 and 15 minute load averages (other work sharing the CPUs), where the OS says."""
    import os

    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def write_all(doc: dict[str, Any], outdir: Path) -> int:
    """pitfalls.json, the figure, pitfalls.md (each written atomically)."""
    from lbfgs_impl.commands.common import write_output
    from lbfgs_impl.commands.pitfalls.document import render
    from lbfgs_impl.outputs import atomic_write_text, write_json_atomic
    from lbfgs_impl.plots.pitfalls import figure

    status = write_output(write_json_atomic, str(outdir / "pitfalls.json"), doc)
    if status:
        return status
    figure(doc, outdir / "pitfalls.png")
    return write_output(atomic_write_text, str(outdir / "pitfalls.md"), render(doc))
