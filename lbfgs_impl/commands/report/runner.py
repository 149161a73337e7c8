"""The default stages of ``lbfgs-bench report``, each with its own progress bar and ETA."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from lbfgs_impl.commands.report import stages
from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.plans import ReportPlan


def _with_bar(name: str, total: int, fn: Callable[[Callable[[str], None]], Any]) -> Callable[[], Any]:
    """Run ``fn(tick)`` under a bar of ``total`` steps; each ``tick(message)`` is one step."""

    def run() -> Any:
        with tqdm(total=total, desc=f"{name:12s}", unit="step", file=sys.stderr, leave=True) as bar:

            def tick(message: str) -> None:
                bar.set_postfix_str(message[-60:], refresh=False)
                bar.update(1)

            return fn(tick)

    return run


def default_stages(
    plan: ReportPlan, report: ReportData, pinning: dict[str, Any], progress: Callable[[str], None]
) -> dict[str, Callable[[], Any]]:
    cpu = pinning["cpus"][0] if pinning.get("pinned") else None

    def scaling(tick):
        return stages.scaling(plan.scaling, plan.steady_repeats, tick)

    def floor(tick):
        rows = []
        for problem in ("rosenbrock", "logistic"):
            for n in plan.floor_sizes:
                tick(f"{problem}-{n}")
                rows.append(stages.evaluation_floor(problem, n))
        return rows

    def break_even(tick):
        rows = report.stages["scaling"].data if report.ok("scaling") else []
        return stages.break_even(plan.break_even, rows, cpu, tick)

    def batched(tick):
        return stages.batched(plan.batch_sizes, 100, plan.batch_repeats, tick)

    def convergence(tick):
        return stages.convergence(tick)

    def robustness(tick):
        from lbfgs_impl.commands.profile.runner import QUICK_PROBLEMS, run_profile, to_dict
        from lbfgs_impl.solvers import solver_names

        problems = plan.robustness_problems or QUICK_PROBLEMS
        solvers = plan.robustness_solvers or tuple(solver_names())
        run = run_profile(problems, solvers, repeats=plan.steady_repeats, progress=tick)
        return to_dict(run)

    n_robust = len(plan.robustness_problems or ()) or 10
    return {
        "scaling": _with_bar("scaling", len(plan.scaling), scaling),
        "floor": _with_bar("floor", 2 * len(plan.floor_sizes), floor),
        "break_even": _with_bar("break-even", len(plan.break_even), break_even),
        "batched": _with_bar("batched", len(plan.batch_sizes), batched),
        "convergence": _with_bar("convergence", 2, convergence),
        "robustness": _with_bar("robustness", n_robust, robustness),
    }
