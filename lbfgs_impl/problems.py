"""Test problems: a small :class:`Problem` type and a registry of factories.

Every objective has the signature ``objective(x, data) -> scalar`` where ``x``
is a float64 vector of shape ``(n,)`` and ``data`` is a pytree of arrays (or
``None``). Passing the data as an argument, rather than closing over it, keeps
large arrays out of the compiled program as constants and lets one compiled
solve serve any data of the same shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl._compat import require_x64

Objective = Callable[[jax.Array, Any], jax.Array]


@dataclass(frozen=True, eq=False)
class Problem:
    """An unconstrained minimisation problem.

    Attributes:
      name: registry name, e.g. ``"rosenbrock"``.
      n: dimension of ``x``.
      objective: ``objective(x, data) -> scalar``; a module-level function so
        that JAX's caches see the same object every time.
      x0: starting point, float64 array of shape ``(n,)``.
      data: pytree of arrays passed to ``objective`` (``None`` when unused).
      f_star: the known minimum value, or ``None`` when it is not known.
      params: the parameters the problem was built with (seed, condition...).
    """

    name: str
    n: int
    objective: Objective
    x0: jax.Array
    data: Any
    f_star: float | None
    params: Mapping[str, Any] = field(default_factory=dict)

    def value(self, x: jax.Array) -> jax.Array:
        """Objective value at ``x``."""
        return self.objective(x, self.data)

    def value_and_grad(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objective value and gradient at ``x`` (not jitted)."""
        return jax.value_and_grad(self.objective)(x, self.data)

    @property
    def label(self) -> str:
        """Short human label, e.g. ``rosenbrock(n=100)``."""
        return f"{self.name}(n={self.n})"


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


PROBLEMS: dict[str, Callable[..., Problem]] = {
    "rosenbrock": make_rosenbrock,
    "quadratic": make_quadratic,
    "logistic": make_logistic,
}


#: Bytes of each problem's data arrays at size n (float64), for the memory check before building it.
DATA_BYTES: dict[str, Callable[..., int]] = {
    "rosenbrock": lambda n: 0,
    "quadratic": lambda n, condition=1e3, seed=0: 3 * 8 * n,
    "logistic": lambda n, m=1000, lam=1e-3, seed=0: 8 * (m * n + m + n + 1),
}


def data_bytes(name: str, n: int, **params: Any) -> int:
    """Size in bytes of the data of ``make_problem(name, n, **params)``, without building it."""
    estimate = DATA_BYTES.get(name)
    return estimate(n, **params) if estimate is not None else 0


def problem_names() -> list[str]:
    """Names accepted by :func:`make_problem`."""
    return list(PROBLEMS)


def make_problem(name: str, n: int | None = None, **params: Any) -> Problem:
    """Build a registered problem.

    Args:
      name: one of :func:`problem_names`.
      n: dimension, >= 2 (each factory has its own default).
      **params: problem-specific parameters (see each ``make_*`` function).

    Raises:
      ValueError: unknown name, unknown parameter, ``n < 2`` or a bad value.
    """
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; valid problems: {', '.join(PROBLEMS)}")
    factory = PROBLEMS[name]
    accepted = [p for p in inspect.signature(factory).parameters if p != "n"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for problem {name!r}; "
            f"valid parameters: {', '.join(accepted) or 'none'}"
        )
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"problem dimension n must be an integer >= 2, got {n!r}")
        params["n"] = int(n)
    require_x64()
    return factory(**params)
