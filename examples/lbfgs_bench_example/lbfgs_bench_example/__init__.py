"""An example lbfgs-bench plugin: a solver written in JAX and a problem.

* ``gradient_descent``: a jittable solve ``(objective, x0, data, config) -> SolveState``
  (the public protocol of :mod:`lbfgs_impl.solvers.protocol`): gradient descent with an
  Armijo backtracking line search, the whole solve one ``jax.lax.while_loop``;
* ``make_quadratic``: a factory ``(n) -> Problem``, a diagonal quadratic with condition 10
  whose minimum (0) is known.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig, SolveState

__all__ = ["gradient_descent", "make_quadratic", "quadratic_objective"]


def gradient_descent(objective: Any, x0: jax.Array, data: Any, config: SolverConfig) -> SolveState:
    """Gradient descent with Armijo backtracking, one jitted while loop."""
    value_and_grad = jax.value_and_grad(objective)

    def backtrack(x: jax.Array, f: jax.Array, g: jax.Array, step: jax.Array) -> tuple[jax.Array, ...]:
        def too_long(carry: tuple[jax.Array, ...]) -> jax.Array:
            t, k = carry
            return (objective(x - t * g, data) > f - 1e-4 * t * jnp.dot(g, g)) & (k < 50)

        t, _ = jax.lax.while_loop(too_long, lambda c: (0.5 * c[0], c[1] + 1), (step, 0))
        return x - t * g, t

    def keep_going(carry: tuple[jax.Array, ...]) -> jax.Array:
        _, _, g, _, k = carry
        return (jnp.max(jnp.abs(g)) > config.gtol) & (k < config.maxiter)

    def body(carry: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        x, f, g, step, k = carry
        x, t = backtrack(x, f, g, step)
        f, g = value_and_grad(x, data)
        return x, f, g, 2.0 * t, k + 1  # try a longer step next time

    f0, g0 = value_and_grad(x0, data)
    x, _, _, _, n_iter = jax.lax.while_loop(keep_going, body, (x0, f0, g0, jnp.asarray(1.0), 0))
    return SolveState(x, jnp.asarray(n_iter))


def quadratic_objective(x: jax.Array, data: jax.Array) -> jax.Array:
    """0.5 * sum(d * (x - 1)^2) with the eigenvalues ``d = data``."""
    return 0.5 * jnp.sum(data * (x - 1.0) ** 2)


def make_quadratic(n: int = 20) -> Problem:
    """A diagonal quadratic with eigenvalues from 1 to 10, minimum 0 at ``x = 1``, from ``x0 = 0``."""
    d = jnp.linspace(1.0, 10.0, n)
    return Problem("example_quadratic", n, quadratic_objective, jnp.zeros(n), d, 0.0, {})
