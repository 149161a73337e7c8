"""The seed problems: chained Rosenbrock, a rotated convex quadratic and logistic regression."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.problems.base import Problem


def rosenbrock_objective(x: jax.Array, data: Any = None) -> jax.Array:
    """Chained Rosenbrock: sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2."""
    del data
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def quadratic_objective(x: jax.Array, data: tuple[jax.Array, ...]) -> jax.Array:
    """0.5 * sum(d * (H (x - c))^2) with H a Householder reflection.

    ``data = (d, c, v)``: eigenvalues ``d``, minimiser ``c`` and the unit
    Householder vector ``v``. The Hessian ``H diag(d) H`` is dense but never
    formed, so the cost is O(n).
    """
    d, c, v = data
    r = x - c
    y = r - 2.0 * v * jnp.dot(v, r)
    return 0.5 * jnp.sum(d * y**2)


def logistic_objective(x: jax.Array, data: tuple[jax.Array, jax.Array, jax.Array]) -> jax.Array:
    """Mean logistic loss + (lam / 2) ||x||^2.

    ``data = (A, y, lam)``: features ``A`` of shape ``(m, n)``, labels ``y`` in
    {-1, +1} of shape ``(m,)`` and the scalar regularisation ``lam``.
    """
    a, y, lam = data
    margins = y * (a @ x)
    return jnp.mean(jnp.logaddexp(0.0, -margins)) + 0.5 * lam * jnp.dot(x, x)


def make_rosenbrock(n: int = 100) -> Problem:
    """Chained Rosenbrock from ``x0 = 0``; minimum 0 at ``x = 1``."""
    return Problem("rosenbrock", n, rosenbrock_objective, jnp.zeros(n), None, 0.0, {})


def make_quadratic(n: int = 100, condition: float = 1e3, seed: int = 0) -> Problem:
    """Convex quadratic with the given condition number, minimum 0 at a seeded point."""
    if not condition >= 1.0 or not np.isfinite(condition):
        raise ValueError(f"quadratic: condition must be a finite number >= 1, got {condition!r}")
    rng = np.random.default_rng(seed)
    d = np.logspace(0.0, np.log10(condition), n)
    c = rng.standard_normal(n)
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    data = (jnp.asarray(d), jnp.asarray(c), jnp.asarray(v))
    params = {"condition": float(condition), "seed": seed}
    return Problem("quadratic", n, quadratic_objective, jnp.zeros(n), data, 0.0, params)


def make_logistic(n: int = 100, m: int = 1000, lam: float = 1e-3, seed: int = 0) -> Problem:
    """L2-regularised logistic regression on seeded synthetic data (n features, m samples)."""
    if m < 1:
        raise ValueError(f"logistic: m (samples) must be >= 1, got {m!r}")
    if not lam > 0.0 or not np.isfinite(lam):
        raise ValueError(f"logistic: lam must be a finite number > 0, got {lam!r}")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    w_true = rng.standard_normal(n)
    noise = 0.5 * rng.standard_normal(m)
    y = np.where(a @ w_true / np.sqrt(n) + noise >= 0.0, 1.0, -1.0)
    data = (jnp.asarray(a), jnp.asarray(y), jnp.asarray(lam, dtype=jnp.float64))
    params = {"m": m, "lam": float(lam), "seed": seed}
    return Problem("logistic", n, logistic_objective, jnp.zeros(n), data, None, params)
