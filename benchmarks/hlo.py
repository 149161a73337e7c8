"""What XLA runs per iteration, statically (asv ``track_`` lines; exact, no run under valgrind needed).

From each solver's compiled executable (:mod:`lbfgs_impl.commands.explain.static`):
kernels (thunks) per iteration, the kernels of the iteration's body and of the
line-search body, and XLA's flops per iteration body. A library change that adds
ops to the loop moves these lines the same night. Commits without the module
are skipped (``NotImplementedError``).
"""

from __future__ import annotations

from . import CASES, SMOKE, make_case, parse_case, solvers

SOLVERS = solvers(["optax_while"] if SMOKE else ["scipy", "optax_loop", "optax_while"])
PARAMS = (SOLVERS, CASES)
PARAM_NAMES = ["solver", "case"]


def _static():
    try:
        from lbfgs_impl.commands.explain.static import solver_static
    except ImportError:
        return None
    return solver_static


class StaticHLO:
    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600

    def setup_cache(self):
        solver_static = _static()
        if solver_static is None:
            return {"skipped": "this commit has no static HLO figures (lbfgs_impl.commands.explain)"}
        figures = {}
        for solver in SOLVERS:
            for case in CASES:
                try:
                    _, problem, config = make_case(solver, case)
                except NotImplementedError:
                    continue
                figures[solver, case] = solver_static(solver, problem, config)
        return figures

    def setup(self, figures, solver, case):
        if "skipped" in figures:
            raise NotImplementedError(figures["skipped"])
        if (solver, case) not in figures:
            raise NotImplementedError(f"{solver} on {case} is not available in this commit")
        parse_case(case)

    def track_kernels_per_iteration(self, figures, solver, case):
        return figures[solver, case]["kernels_per_iteration_total"]

    track_kernels_per_iteration.unit = "kernels"

    def track_iteration_body_kernels(self, figures, solver, case):
        return figures[solver, case]["hlo"]["iteration"]["kernels"]

    track_iteration_body_kernels.unit = "kernels"

    def track_dispatches_per_iteration(self, figures, solver, case):
        return figures[solver, case]["dispatches_per_iteration"]

    track_dispatches_per_iteration.unit = "dispatches"


class StaticHLOLineSearch(StaticHLO):
    """The line-search loop's kernels, for the solvers whose line search runs inside XLA.

    asv skips only on ``NotImplementedError`` from ``setup`` (one raised in a
    ``track_`` method is a failure), so the check lives here.
    """

    def setup(self, figures, solver, case):
        super().setup(figures, solver, case)
        if figures[solver, case]["hlo"]["line_search"] is None:
            raise NotImplementedError(f"{solver} has no line-search loop inside XLA")

    def track_line_search_body_kernels(self, figures, solver, case):
        return figures[solver, case]["hlo"]["line_search"]["kernels"]

    track_line_search_body_kernels.unit = "kernels"


class StaticHLOCost(StaticHLO):
    """XLA's cost analysis (flops) of the iteration body, where this jaxlib offers it."""

    def setup(self, figures, solver, case):
        super().setup(figures, solver, case)
        iteration = figures[solver, case]["hlo"]["iteration"]
        if iteration["flops"] is None:
            raise NotImplementedError(iteration.get("cost_missing") or "missing: XLA's cost analysis")

    def track_iteration_body_flops(self, figures, solver, case):
        return figures[solver, case]["hlo"]["iteration"]["flops"]

    track_iteration_body_flops.unit = "flops"
