"""Test problems: a small :class:`Problem` type and a registry of factories.

Every objective has the signature ``objective(x, data) -> scalar`` where ``x``
is a float64 vector of shape ``(n,)`` and ``data`` is a pytree of arrays (or
``None``). Passing the data as an argument, rather than closing over it, keeps
large arrays out of the compiled program as constants and lets one compiled
solve serve any data of the same shapes.

Families: :mod:`~lbfgs_impl.problems.seed` (``rosenbrock``, ``quadratic``,
``logistic``) and :mod:`~lbfgs_impl.problems.mgh` (the Moré, Garbow and
Hillstrom 1981 unconstrained set, named ``mgh_*``).

Where problems come from (:mod:`lbfgs_impl.registry`): the entry-point group
``lbfgs_bench.problems`` (lbfgs-bench registers the families above there; from a
source checkout without an install, the same come from :data:`BUILTIN_PROBLEMS`),
and any ``module:attr`` naming a function ``f(x) -> scalar``, a factory
``(n) -> Problem`` or a :class:`Problem` (:mod:`lbfgs_impl.problems.user`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import lbfgs_impl.registry as registry
from lbfgs_impl._compat import require_x64
from lbfgs_impl.problems import mgh
from lbfgs_impl.problems.base import Objective, Problem
from lbfgs_impl.problems.seed import (
    logistic_objective,
    quadratic_objective,
    rosenbrock_objective,
)

__all__ = [
    "BUILTIN_PROBLEMS",
    "DATA_BYTES",
    "PROBLEMS",
    "Objective",
    "Problem",
    "data_bytes",
    "logistic_objective",
    "make_problem",
    "problem_names",
    "problem_origin",
    "quadratic_objective",
    "rosenbrock_objective",
]

#: lbfgs-bench's own problems (name -> ``module:attr`` of a factory), as its ``lbfgs_bench.problems``
#: entry points declare them; used as they are where the installed distribution declares none.
BUILTIN_PROBLEMS: dict[str, str] = {
    "rosenbrock": "lbfgs_impl.problems.seed:make_rosenbrock",
    "quadratic": "lbfgs_impl.problems.seed:make_quadratic",
    "logistic": "lbfgs_impl.problems.seed:make_logistic",
    **{name: f"lbfgs_impl.problems.mgh:{factory.__name__}" for name, factory in mgh.FACTORIES.items()},
}

_ORIGINS: dict[str, registry.Origin] = {}


def _builtin(reg: registry.Registration) -> Callable[..., Problem]:
    _ORIGINS[reg.name] = reg.origin()
    return registry.load_target(reg.target, f"problem {reg.name!r}")


#: lbfgs-bench's own problem factories by name, loaded through its entry points.
PROBLEMS: dict[str, Callable[..., Problem]] = {
    r.name: _builtin(r) for r in registry.builtin_registrations(registry.PROBLEM_GROUP, BUILTIN_PROBLEMS)
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
    """Registered names accepted by :func:`make_problem` (built-ins, then installed plugins); any
    ``module:attr`` is accepted as well."""
    plugins = registry.third_party(registry.PROBLEM_GROUP)
    return [*PROBLEMS, *(name for name in plugins if name not in PROBLEMS)]


def problem_origin(name: str) -> registry.Origin:
    """Where the problem ``name`` (a registered name or ``module:attr``) comes from."""
    if registry.is_spec(name):
        return registry.spec_origin(name)
    if name in _ORIGINS:
        return _ORIGINS[name]
    regs = registry.third_party(registry.PROBLEM_GROUP).get(name)
    if regs:
        return regs[0].origin()
    raise ValueError(
        f"unknown problem {name!r}; valid problems: {', '.join(problem_names())} (or module:attr)"
    )


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"problem dimension n must be an integer >= 2, got {n!r}")
    return int(n)


def make_problem(name: str, n: int | None = None, x0: Any = None, **params: Any) -> Problem:
    """Build a problem by registered name or ``module:attr``.

    Args:
      name: one of :func:`problem_names`, or ``module:attr`` naming a function
        ``f(x) -> scalar``, a factory ``(n) -> Problem`` or a :class:`Problem`.
      n: dimension, >= 2 (each factory has its own default).
      x0: another start: an array of shape ``(n,)``, or ``module:attr`` naming one (recorded in
        the problem's ``params``); checked like every start.
      **params: problem-specific parameters (see each ``make_*`` function).

    Raises:
      ValueError: unknown name, unknown parameter, ``n < 2`` or a bad value; a plugin that
        cannot be used (:class:`~lbfgs_impl.registry.PluginError`, one line).
    """
    if x0 is None:
        return _make_problem(name, n, None, **params)
    from lbfgs_impl.problems.user import given_start

    require_x64()
    start = given_start(x0, None if n is None else _check_n(n), f"problem {name!r}")
    return _make_problem(name, int(start[0].shape[0]), start, **params)


def _make_problem(name: str, n: int | None, start: Any, **params: Any) -> Problem:
    plugins = registry.third_party(registry.PROBLEM_GROUP)
    if name in plugins and (name in PROBLEMS or len(plugins[name]) > 1):
        own = [
            r
            for r in registry.builtin_registrations(registry.PROBLEM_GROUP, BUILTIN_PROBLEMS)
            if r.name == name
        ]
        raise registry.PluginError(registry.conflict_message("problem", name, [*own, *plugins[name]]))
    if name not in PROBLEMS and (registry.is_spec(name) or name in plugins):
        from lbfgs_impl.problems.user import user_problem

        n = None if n is None else _check_n(n)
        require_x64()
        target = name if registry.is_spec(name) else plugins[name][0].target
        what = f"problem {name!r}"
        return user_problem(registry.load_target(target, what), name, n, dict(params), what, start)
    if name not in PROBLEMS:
        raise ValueError(
            f"unknown problem {name!r}; valid problems: {', '.join(problem_names())} (or module:attr)"
        )
    factory = PROBLEMS[name]
    accepted = [p for p in inspect.signature(factory).parameters if p != "n"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for problem {name!r}; "
            f"valid parameters: {', '.join(accepted) or 'none'}"
        )
    if n is not None:
        params["n"] = _check_n(n)
    require_x64()
    if start is None:
        return factory(**params)
    from lbfgs_impl.problems.user import with_start

    return with_start(factory(**params), *start, f"problem {name!r}")
