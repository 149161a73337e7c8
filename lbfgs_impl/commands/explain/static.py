"""The part of ``explain`` that needs no valgrind: HLO figures per solver and one native solve's counts."""

from __future__ import annotations

from typing import Any

import jax

from lbfgs_impl.measure.hlo import HloSummary, summarize, xla_cost_or_reason
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig, get_solver

#: how each solver's iteration reaches XLA
KINDS = {
    "one_executable": "the whole solve is one executable; an iteration is its outer while body",
    "jitted_step": "a Python loop dispatches one jitted step per iteration and reads two scalars back",
    "callback": "SciPy's Fortran loop calls one jitted value_and_grad per evaluation",
}


def _executable(prepared: Any) -> tuple[Any, str] | None:
    """The compiled executable whose HLO one iteration runs, and how (a key of :data:`KINDS`).

    None for a solver whose iteration reaches XLA some other way (no registered solver today;
    a new one is then reported without static figures rather than with wrong ones).
    """
    if getattr(prepared, "_step", None) is not None:
        return prepared._step, "jitted_step"
    solve = getattr(prepared, "_solve", None)
    if solve is not None and hasattr(solve, "as_text"):
        return solve, "one_executable"
    callback = getattr(prepared, "_value_and_grad", None)
    if callback is not None and hasattr(callback, "as_text"):
        return callback, "callback"
    return None


def value_and_grad_summary(problem: Problem) -> HloSummary:
    """Static figures of one jitted value_and_grad of the problem (the unit of the floor)."""
    compiled = jax.jit(jax.value_and_grad(problem.objective)).lower(problem.x0, problem.data).compile()
    return summarize(compiled.as_text(), loop=False, cost=xla_cost_or_reason)


def solver_static(
    solver: str, problem: Problem, config: SolverConfig, compiled: tuple[Any, Any] | None = None
) -> dict[str, Any]:
    """One solver's static figures, with the iterations and evaluations of one native solve.

    Prepares, compiles and runs the solver once (or takes ``compiled``: that solve, already
    compiled for this problem and config, and its result), then :func:`static_figures`.
    """
    if compiled is None:
        prepared = get_solver(solver).prepare(problem, config)
        prepared.compile()
        result = prepared.result(prepared.run())
    else:
        prepared, result = compiled
    figures = static_figures(prepared, result)
    if figures is None:
        raise ValueError(f"{solver}: no executable whose HLO one iteration runs")
    return {"solver": solver, **figures}


def static_figures(prepared: Any, result: Any) -> dict[str, Any] | None:
    """Static figures of a compiled solver, from its executable's optimised HLO (nothing is run).

    Args:
      prepared: a solver's prepared object whose ``compile()`` has run, so its executables exist.
      result: the :class:`~lbfgs_impl.solvers.Result` of one solve (for evaluations per iteration).

    Returns a dict: ``kind``, ``n_iter``, ``n_fev``, ``evaluations_per_iteration``,
    ``dispatches_per_iteration`` (host -> XLA launches), ``hlo`` (:class:`HloSummary` as a dict),
    ``kernels_per_iteration`` (parts) and its ``kernels_per_iteration_total``; None when
    the solver has no executable this module knows how to read.
    """
    found = _executable(prepared)
    if found is None:
        return None
    compiled, kind = found
    summary = summarize(compiled.as_text(), loop=kind == "one_executable", cost=xla_cost_or_reason)
    iters = max(result.n_iter, 1)
    evals = result.n_fev / iters
    if kind == "callback":
        parts = {"evaluations": evals * summary.iteration.once}
        dispatches = evals
    else:
        parts = summary.kernels_per_iteration(evals)
        dispatches = 1.0 if kind == "jitted_step" else 1.0 / iters
    return {
        "kind": kind,
        "n_iter": result.n_iter,
        "n_fev": result.n_fev,
        "converged": result.converged,
        "evaluations_per_iteration": evals,
        "dispatches_per_iteration": dispatches,
        "hlo": summary.to_dict(),
        "kernels_per_iteration": parts,
        "kernels_per_iteration_total": sum(parts.values()),
    }


def static_extra_info(figures: dict[str, Any] | None) -> dict[str, Any]:
    """The static figures a pytest-benchmark ``extra_info`` carries (``hlo_*`` keys, exact like iterations).

    ``hlo_kernels_per_iteration`` (estimated: cheapest branches, nested loops at their trip count), the
    kernels of the iteration body and of the line-search body (None where the line
    search runs in Python or the solver has none inside XLA), the host dispatches
    per iteration and XLA's flops of one iteration body (with, where that is None,
    ``hlo_iteration_flops_missing``: why).
    """
    if figures is None:
        return {"hlo_kernels_per_iteration": None}
    hlo = figures["hlo"]
    line_search = hlo.get("line_search")
    return {
        "hlo_kernels_per_iteration": figures["kernels_per_iteration_total"],
        "hlo_iteration_body_kernels": hlo["iteration"]["kernels"],
        "hlo_line_search_kernels": line_search["kernels"] if line_search else None,
        "hlo_dispatches_per_iteration": figures["dispatches_per_iteration"],
        "hlo_iteration_flops": hlo["iteration"].get("flops"),
        "hlo_iteration_flops_missing": hlo["iteration"].get("cost_missing"),
    }
