"""``lbfgs-bench explain``: arguments and body."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.common import (
    UsageError,
    build_problem,
    check_output,
    parse_problems,
    parse_solvers,
    positive_int,
    progress,
)

NAME = "explain"
HELP = "where an iteration's instructions go (callgrind by category), what XLA runs per iteration, the floor"
DESCRIPTION = (
    "Splits one counted solve per solver into categories (XLA-generated code, XLA library kernels, "
    "XLA/PJRT runtime, CPython, NumPy, SciPy's L-BFGS-B, BLAS, libc/libm, scheduler, other), counts "
    "the kernels XLA runs per iteration from the optimised HLO, and compares each iteration with its "
    "arithmetic floor. Writes explain.md, explain.json and two figures to OUTDIR. Without valgrind the "
    "static part still runs."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lbfgs_impl.problems import problem_names
    from lbfgs_impl.solvers import SEED_SOLVERS, solver_names

    parser.add_argument("outdir", metavar="OUTDIR", help="directory for explain.md, explain.json, figures")
    parser.add_argument(
        "--problem",
        default="rosenbrock",
        help=f"one of: {', '.join(problem_names())}, or module:attr (default: rosenbrock)",
    )
    parser.add_argument("--n", type=int, default=100, help="problem dimension, >= 2 (default: 100)")
    parser.add_argument(
        "--solvers",
        default=",".join(SEED_SOLVERS),
        help=f"comma-separated subset of: {', '.join(solver_names())} (default: {','.join(SEED_SOLVERS)})",
    )
    parser.add_argument(
        "--maxiter",
        type=positive_int,
        default=1000,
        help="iteration limit (default: 1000; the figures are per iteration, so a lower limit keeps "
        "large n affordable under valgrind)",
    )
    parser.add_argument(
        "--top", type=positive_int, default=5, help="functions listed per category and solver (default: 5)"
    )


def run(args: argparse.Namespace) -> int:
    from lbfgs_impl.measure.resources import check_fits
    from lbfgs_impl.outputs import check_writable
    from lbfgs_impl.solvers import SolverConfig, get_solver

    solvers = parse_solvers(args.solvers)
    for name in solvers:
        reason = get_solver(name).unavailable_reason()
        if reason:
            raise UsageError(f"solver {name!r} is unavailable: {reason}")
    outdir = Path(args.outdir)
    check_output(check_writable, str(outdir / "explain.json"))
    config = SolverConfig(maxiter=args.maxiter)
    parse_problems(args.problem)
    if args.n < 2:
        raise UsageError(f"problem dimension n must be an integer >= 2, got {args.n}")
    if ":" in args.problem:  # a plugin problem is built and checked before anything runs
        build_problem(args.problem, args.n)
    try:
        check_fits(args.problem, args.n, config.memory_size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    t0 = time.perf_counter()
    doc = explain(args.problem, args.n, solvers, config, top=args.top, outdir=outdir)
    progress(f"explain took {time.perf_counter() - t0:.0f} s (wall time; machine load included)")
    return write_all(doc, outdir)


def explain(
    problem_name: str,
    n: int,
    solvers: list[str],
    config: Any,
    *,
    top: int,
    outdir: Path,
    skip_callgrind: str | None = None,
    cpus: list[int] | None = None,
    compiled: dict[str, tuple[Any, Any]] | None = None,
) -> dict[str, Any]:
    """Every figure of explain.json: the callgrind part (or why it was skipped), then the static part.

    ``compiled``: solver -> (compiled solve of this case and config, its :class:`Result`), reused
    by the static part instead of compiling the solve again (the report's scaling stage has them).

    The callgrind part is counted first (its zygotes are separate processes, started
    before this one compiles anything); ``skip_callgrind`` (a reason) leaves it out. ``cpus``:
    one counting process per CPU listed (default: the CPUs this process may use).
    """
    from lbfgs_impl.commands.explain.runner import measure_callgrind
    from lbfgs_impl.measure.attribution import CATEGORIES
    from lbfgs_impl.measure.environment import collect_meta
    from lbfgs_impl.problems import make_problem

    label = f"{problem_name}(n={n})"
    progress(f"{label}: counting one solve per solver and the floor's probes under callgrind")
    outdir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".callgrind-", dir=outdir))
    if skip_callgrind:
        callgrind: dict[str, Any] = {"skipped": skip_callgrind}
    else:
        callgrind = measure_callgrind(problem_name, n, solvers, config, top=top, dump_dir=staging, cpus=cpus)
    final = outdir / "callgrind"
    if "skipped" in callgrind:
        shutil.rmtree(staging)
        progress(callgrind["skipped"])
    else:
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for part in callgrind["solvers"].values():
            part["dump"] = str(final / Path(part["dump"]).relative_to(staging))
    static = _static_part(make_problem(problem_name, n), solvers, config, compiled or {}, label)
    return {
        "meta": collect_meta(),
        "problem": problem_name,
        "n": n,
        "config": config._asdict(),
        "solvers": solvers,
        "top": top,
        "rules": [{"key": c.key, "label": c.label, "rule": c.rule} for c in CATEGORIES],
        "static": static,
        "callgrind": callgrind,
    }


def _static_part(
    problem: Any, solvers: list[str], config: Any, compiled: dict[str, tuple[Any, Any]], label: str
) -> dict[str, Any]:
    """The static figures of every solver; one that fails is recorded (``error``), not the end of explain."""
    from lbfgs_impl.commands.explain.static import KINDS, solver_static, value_and_grad_summary

    static: dict[str, Any] = {"value_and_grad": value_and_grad_summary(problem).to_dict(), "solvers": {}}
    static["kinds"] = KINDS
    for name in solvers:
        progress(f"{label}: static figures of {name}")
        try:
            static["solvers"][name] = solver_static(name, problem, config, compiled.get(name))
        except Exception as exc:  # a solver that fails is a recorded outcome
            static["solvers"][name] = {"solver": name, "error": f"{type(exc).__name__}: {exc}"}
            progress(f"{label}: {name} failed: {static['solvers'][name]['error']}")
    return static


def write_all(doc: dict[str, Any], outdir: Path) -> int:
    """explain.json, the figures, explain.md (each written atomically)."""
    from lbfgs_impl.commands.common import write_output
    from lbfgs_impl.commands.explain.document import render
    from lbfgs_impl.measure.attribution import LABELS
    from lbfgs_impl.outputs import atomic_write_text, write_json_atomic
    from lbfgs_impl.plots import explain as plots

    title = f"{doc['problem']} n={doc['n']}"
    kernels = {s: v["kernels_per_iteration"] for s, v in doc["static"]["solvers"].items() if "error" not in v}
    plots.kernels(kernels, f"kernels XLA executes per iteration: {title}", outdir / "explain_kernels.png")
    categories = outdir / "explain_categories.png"
    if "skipped" not in doc["callgrind"]:
        per_iter = {s: v["per_iteration"] for s, v in doc["callgrind"]["solvers"].items()}
        plots.categories(per_iter, LABELS, f"instructions per iteration: {title}", categories)
    else:  # an earlier run's figure in the same folder would be read as this run's
        categories.unlink(missing_ok=True)
    status = write_output(write_json_atomic, str(outdir / "explain.json"), doc)
    return status or write_output(atomic_write_text, str(outdir / "explain.md"), render(doc))
