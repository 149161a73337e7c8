"""The untimed counting solve must take the timed solve's path; optimistix counts accepted steps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver
from lbfgs_impl.solvers.base import JittedOutput, JittedPrepared, PathMismatch


def _gradient_steps(problem):
    """A toy 'library' whose path depends on which objective object it gets: 3 steps, else 4."""

    def build(objective, config):
        steps = 3 if objective is problem.objective else 4

        def solve(x0, data):
            grad = jax.grad(objective)
            x = jax.lax.fori_loop(0, steps, lambda i, x: x - 1e-3 * grad(x, data), x0)
            return JittedOutput(x, jnp.asarray(steps), jnp.asarray(0))

        return solve

    return build


def test_a_counting_solve_on_another_path_raises():
    problem = make_problem("rosenbrock", 4)
    prepared = JittedPrepared(problem, SolverConfig(), _gradient_steps(problem), lambda c, n, cfg: "")
    prepared.compile()
    with pytest.raises(PathMismatch, match=r"3 iterations vs 4|4 iterations vs 3"):
        prepared.result(prepared.run())


@pytest.mark.skipif(get_solver("optimistix_lbfgs").unavailable_reason() is not None, reason="no optimistix")
def test_optimistix_iterations_are_accepted_steps_capped_at_maxiter():
    problem = make_problem("rosenbrock", 10)
    r = get_solver("optimistix_lbfgs").solve(problem, SolverConfig(maxiter=15))
    assert r.n_iter == 15  # accepted steps, the budget the other solvers get
    assert r.n_fev > r.n_iter  # its rejected steps evaluate (the value) too
    assert "maxiter=15 reached" in r.status
