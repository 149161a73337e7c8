"""The part of ``explain`` that needs no valgrind: HLO figures per solver and one native solve's counts."""

from __future__ import annotations

from typing import Any

import jax

from lbfgs_impl.measure.hlo import HloSummary, summarize, xla_cost
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig, get_solver

#: how each solver's iteration reaches XLA
KINDS = {
    "one_executable": "the whole solve is one executable; an iteration is its outer while body",
    "jitted_step": "a Python loop dispatches one jitted step per iteration and reads two scalars back",
    "callback": "SciPy's Fortran loop calls one jitted value_and_grad per evaluation",
}


def _executable(prepared: Any) -> tuple[Any, str]:
    """The compiled executable whose HLO one iteration runs, and how (a key of :data:`KINDS`)."""
    if getattr(prepared, "_step", None) is not None:
        return prepared._step, "jitted_step"
    solve = getattr(prepared, "_solve", None)
    if solve is not None and hasattr(solve, "as_text"):
        return solve, "one_executable"
    return prepared._value_and_grad, "callback"


def value_and_grad_summary(problem: Problem) -> HloSummary:
    """Static figures of one jitted value_and_grad of the problem (the unit of the floor)."""
    compiled = jax.jit(jax.value_and_grad(problem.objective)).lower(problem.x0, problem.data).compile()
    return summarize(compiled.as_text(), loop=False, cost=xla_cost)


def solver_static(solver: str, problem: Problem, config: SolverConfig) -> dict[str, Any]:
    """One solver's static figures, with the iterations and evaluations of one native solve.

    Returns a dict: ``kind``, ``n_iter``, ``n_fev``, ``evaluations_per_iteration``,
    ``dispatches_per_iteration`` (host -> XLA launches), ``hlo`` (:class:`HloSummary` as a dict),
    ``kernels_per_iteration`` (parts) and its ``kernels_per_iteration_total``.
    """
    prepared = get_solver(solver).prepare(problem, config)
    prepared.compile()
    result = prepared.result(prepared.run())
    compiled, kind = _executable(prepared)
    summary = summarize(compiled.as_text(), loop=kind == "one_executable", cost=xla_cost)
    iters = max(result.n_iter, 1)
    evals = result.n_fev / iters
    if kind == "callback":
        parts = {"evaluations": evals * (summary.iteration.kernels + summary.iteration.branch_kernels[0])}
        dispatches = evals
    else:
        parts = summary.kernels_per_iteration(evals)
        dispatches = 1.0 if kind == "jitted_step" else 1.0 / iters
    return {
        "solver": solver,
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
