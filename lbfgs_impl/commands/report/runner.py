"""The default stages of ``lbfgs-bench report``, each with its own progress bar and ETA."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lbfgs_impl.commands.report import stages
from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.plans import ReportPlan
from lbfgs_impl.solvers import SEED_SOLVERS, get_solver


def _with_bar(name: str, total: int, fn: Callable[[Callable[[str], None]], Any]) -> Callable[[], Any]:
    """Run ``fn(tick)`` under a bar of ``total`` steps.

    ``tick(message)`` announces the step that starts now: the bar advances for
    the step before it (finished), and once more when ``fn`` returns, so the
    bar never shows a step as done while it runs.
    """

    def run() -> Any:
        with tqdm(total=total, desc=f"{name:12s}", unit="step", file=sys.stderr, leave=True) as bar:
            started = 0

            def tick(message: str) -> None:
                nonlocal started
                if started:
                    bar.update(1)
                started += 1
                bar.set_postfix_str(message[-60:], refresh=True)

            out = fn(tick)
            if started:
                bar.update(1)
            return out

    return run


def report_solvers(plan: ReportPlan) -> list[str]:
    """The seed variants and the plan's peers that are installed here."""
    return [*SEED_SOLVERS, *(p for p in plan.peers if get_solver(p).unavailable_reason() is None)]


#: why ``report --quick`` leaves the seed case's instruction breakdown to ``lbfgs-bench explain``
QUICK_EXPLAIN_NOTE = (
    "not counted in this plan (minutes under valgrind); the full report counts it, or run "
    "`lbfgs-bench explain --problem {problem} --n {n} --maxiter {maxiter} --solvers {solvers} OUTDIR`"
)


def seed_case(plan: ReportPlan) -> Any:
    """The seed case where the plan measures it (quick, full), else the plan's first case (tiny)."""
    from lbfgs_impl.commands.report.sections import SEED

    return next((c for c in plan.scaling if (c.problem, c.n) == SEED), plan.scaling[0])


def explain_seed(
    plan: ReportPlan,
    solvers: list[str],
    outdir: Path,
    tick: Callable[[str], None],
    cpus: list[int] | None = None,
    compiled: dict[str, tuple[Any, Any]] | None = None,
) -> Any:
    """``lbfgs-bench explain`` on the seed case into ``outdir`` (explain.md, .json, figures); its document.

    The callgrind part runs only where the plan says so, one counting process per CPU
    of ``cpus`` (the CPUs the run had before it pinned itself: counts do not depend on
    load, and nothing is timed meanwhile); the static HLO part always, reading the executables
    of ``compiled`` (the seed case's solves as the scaling stage compiled and timed them) where
    given instead of compiling them again.
    """
    from lbfgs_impl.commands.explain.command import explain, write_all

    case = seed_case(plan)
    skip = (
        None
        if plan.explain_callgrind
        else QUICK_EXPLAIN_NOTE.format(
            problem=case.problem, n=case.n, maxiter=case.maxiter, solvers=",".join(solvers)
        )
    )
    tick(f"{case.id}: callgrind" if skip is None else f"{case.id}: static HLO figures")
    doc = explain(
        case.problem, case.n, solvers, case.config(), top=3, outdir=outdir, skip_callgrind=skip, cpus=cpus,
        compiled=compiled,
    )  # fmt: skip
    if write_all(doc, outdir):
        raise RuntimeError(f"could not write explain's files into {outdir}")
    return doc


def default_stages(
    plan: ReportPlan,
    report: ReportData,
    pinning: dict[str, Any],
    progress: Callable[[str], None],
    outdir: Path | None = None,
) -> dict[str, Callable[[], Any]]:
    # long function: one closure per stage, sharing the plan, the pinning, the solvers and the seed
    # case's compiled solves (scaling fills them, explain reads them).
    cpu = pinning["cpus"][0] if pinning.get("pinned") else None
    solvers = report_solvers(plan)
    be_solvers = [s for s in plan.break_even_solvers if s in solvers]

    seed = seed_case(plan)
    compiled: dict[str, Any] = {}  # the seed case's compiled solves, from scaling to explain

    def scaling(tick):
        return stages.scaling(
            plan.scaling, plan.steady_repeats, tick, solvers=solvers,
            min_repeats=plan.steady_min_repeats, max_time_s=plan.steady_max_time_s,
            keep=compiled, keep_case=(seed.problem, seed.n, seed.maxiter),
        )  # fmt: skip

    def floor(tick):
        rows = []
        for problem in ("rosenbrock", "logistic"):
            for n in plan.floor_sizes:
                tick(f"{problem}-{n}")
                rows.append(stages.evaluation_floor(problem, n))
        return rows

    def break_even(tick):
        rows = report.stages["scaling"].data if report.ok("scaling") else []
        return stages.break_even(
            plan.break_even, rows, cpu, tick, samples=plan.first_call_samples, solvers=be_solvers
        )

    def batched(tick):
        peers = [s for s in solvers if s not in SEED_SOLVERS]
        return stages.batched(plan.batch_sizes, 100, plan.batch_repeats, tick, peers=peers)

    def convergence(tick):
        return stages.convergence(tick)

    def robustness(tick):
        from lbfgs_impl.commands.profile.runner import QUICK_PROBLEMS, run_profile, to_dict
        from lbfgs_impl.solvers import solver_names

        problems = plan.robustness_problems or QUICK_PROBLEMS
        chosen = plan.robustness_solvers or tuple(solver_names())
        # the section and its profile show outcomes and evaluations: one traced solve each, nothing timed
        run = run_profile(problems, chosen, progress=tick, timed=False)
        return to_dict(run)

    def explain_stage(tick):
        if outdir is None:
            raise ValueError("the explain stage needs an output directory")
        return explain_seed(
            plan, solvers, outdir / "explain", tick, cpus=pinning.get("cpus_before"), compiled=compiled
        )

    n_robust = len(plan.robustness_problems or ()) or 10
    return {
        "scaling": _with_bar("scaling", len(plan.scaling), scaling),
        "floor": _with_bar("floor", 2 * len(plan.floor_sizes), floor),
        "break_even": _with_bar("break-even", len(plan.break_even), break_even),
        "batched": _with_bar("batched", len(plan.batch_sizes), batched),
        "convergence": _with_bar("convergence", 2, convergence),
        "robustness": _with_bar("robustness", n_robust, robustness),
        "explain": _with_bar("explain", 1, explain_stage),
    }
