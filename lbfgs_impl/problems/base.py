"""The :class:`Problem` type every test problem is built as.

Every objective has the signature ``objective(x, data) -> scalar`` where ``x``
is a float64 vector of shape ``(n,)`` and ``data`` is a pytree of arrays (or
``None``). Passing the data as an argument, rather than closing over it, keeps
large arrays out of the compiled program as constants and lets one compiled
solve serve any data of the same shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax

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
