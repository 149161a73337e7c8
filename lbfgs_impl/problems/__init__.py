"""Test problems: a small :class:`Problem` type and a registry of factories.

Every objective has the signature ``objective(x, data) -> scalar`` where ``x``
is a float64 vector of shape ``(n,)`` and ``data`` is a pytree of arrays (or
``None``). Passing the data as an argument, rather than closing over it, keeps
large arrays out of the compiled program as constants and lets one compiled
solve serve any data of the same shapes.

Families: :mod:`~lbfgs_impl.problems.seed` (``rosenbrock``, ``quadratic``,
``logistic``) and :mod:`~lbfgs_impl.problems.mgh` (the Moré, Garbow and
Hillstrom 1981 unconstrained set, named ``mgh_*``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from lbfgs_impl._compat import require_x64
from lbfgs_impl.problems import mgh
from lbfgs_impl.problems.base import Objective, Problem
from lbfgs_impl.problems.seed import (
    logistic_objective,
    make_logistic,
    make_quadratic,
    make_rosenbrock,
    quadratic_objective,
    rosenbrock_objective,
)

__all__ = [
    "DATA_BYTES",
    "PROBLEMS",
    "Objective",
    "Problem",
    "data_bytes",
    "logistic_objective",
    "make_problem",
    "problem_names",
    "quadratic_objective",
    "rosenbrock_objective",
]

PROBLEMS: dict[str, Callable[..., Problem]] = {
    "rosenbrock": make_rosenbrock,
    "quadratic": make_quadratic,
    "logistic": make_logistic,
    **mgh.FACTORIES,
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
