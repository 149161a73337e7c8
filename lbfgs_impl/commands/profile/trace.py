"""The value at every evaluation of one untimed solve, and the cost up to the first success.

Moré and Wild (2009) charge a solver up to the first evaluated point that meets
the success test, not up to its own stopping rule. Here every solver is run
once more, untimed, on the same problem whose objective reports each value to
the host (:func:`jax.debug.callback`); the solve is deterministic, so that
sequence is the timed solve's, which :func:`traced_values` checks (same number
of iterations and the same final ``x``) and raises otherwise. Where nothing is
timed (the report's robustness stage), :func:`traced_solve`'s own outcome is the
result, checked by its caller against the solver's evaluation count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from lbfgs_impl.problems import Problem
from lbfgs_impl.profiles import solved
from lbfgs_impl.solvers import Result, SolverConfig, get_solver
from lbfgs_impl.solvers.base import PathMismatch


def traced_solve(solver: str, problem: Problem, config: SolverConfig) -> tuple[list[float], Result]:
    """One untimed solve whose objective reports f at every evaluation: the values in order, its result."""
    seen: list[float] = []
    objective = problem.objective

    def record(value: Any) -> None:
        seen.append(float(np.asarray(value)))

    def observed(x: jax.Array, data: Any) -> jax.Array:
        value = objective(x, data)
        jax.debug.callback(record, value)
        return value

    prepared = get_solver(solver).prepare(dataclasses.replace(problem, objective=observed), config)
    prepared.compile()
    raw = prepared.run()
    jax.effects_barrier()
    values = list(seen)  # result() may evaluate again (a peer's own counting solve): not this path
    return values, prepared.result(raw)


def traced_values(solver: str, problem: Problem, config: SolverConfig, timed: Result) -> list[float]:
    """f at every objective evaluation of one solve, in order; checked against the ``timed`` result."""
    values, result = traced_solve(solver, problem, config)
    if result.n_iter != timed.n_iter or not np.allclose(result.x, timed.x, rtol=1e-9, atol=1e-12):
        raise PathMismatch(
            f"{solver} on {problem.label}: traced solve took another path "
            f"({result.n_iter} iterations vs {timed.n_iter}, max |dx| "
            f"{float(np.max(np.abs(result.x - timed.x))):.3g})"
        )
    return values


def evaluations_to_success(values: Sequence[float], f_star: float, f0: float, tol: float) -> int | None:
    """1-based index of the first evaluation meeting the success test at ``tol``; ``None`` if none does."""
    for k, value in enumerate(values, start=1):
        if solved(value, f_star, f0, tol):
            return k
    return None
