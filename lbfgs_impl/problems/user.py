"""A problem from the user's code: a function ``f(x) -> scalar`` or a factory ``(n) -> Problem``.

What ``--problem module:attr`` (and a ``lbfgs_bench.problems`` entry point) may name:

* a JAX-traceable function ``f(x) -> scalar`` of one 1-D float64 array: the start is
  ``f.x0`` when the function has that attribute, else ``zeros(n)`` (``n`` from ``--n``),
  unless a start is given (``--x0 module:attr`` naming an array, :func:`with_start`);
  the minimum value is unknown (``f_star=None``);
* a factory: a callable whose first parameter is named ``n``, returning a
  :class:`~lbfgs_impl.problems.Problem` (called with ``n`` when one is given);
* a :class:`~lbfgs_impl.problems.Problem` itself.

Every such problem is checked before anything is timed: the objective traces at ``x0``,
returns a float64 scalar, leaks no tracer and is finite there; ``x0`` has shape ``(n,)``. What fails is one
line (:class:`~lbfgs_impl.registry.PluginError`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.problems.base import Objective, Problem
from lbfgs_impl.registry import PluginError, load_target, one_line

#: one wrapper per user function, so that JAX's caches see the same objective every time
_OBJECTIVES: dict[int, tuple[Callable[..., Any], Objective]] = {}


def objective_of(f: Callable[[jax.Array], jax.Array]) -> Objective:
    """``f(x)`` as the suite's ``objective(x, data)`` (the same object for the same ``f``)."""
    held = _OBJECTIVES.get(id(f))
    if held is not None and held[0] is f:
        return held[1]

    def objective(x: jax.Array, data: Any = None) -> jax.Array:
        del data
        return f(x)

    objective.__name__ = objective.__qualname__ = getattr(f, "__name__", "objective")
    _OBJECTIVES[id(f)] = (f, objective)
    return objective


def is_factory(obj: Any) -> bool:
    """A callable whose first parameter is named ``n`` (a ``(n) -> Problem`` factory)."""
    try:
        params = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "n"


def _start(f: Any, n: int | None, what: str) -> jax.Array:
    x0 = getattr(f, "x0", None)
    if x0 is None:
        if n is None:
            raise PluginError(f"{what}: a function needs a dimension (--n) or an x0 attribute")
        return jnp.zeros(n, dtype=jnp.float64)
    return checked_start(x0, n, what)


def checked_start(x0: Any, n: int | None, what: str) -> jax.Array:
    """``x0`` as a float64 array of shape ``(n,)``, or :class:`PluginError` in one line."""
    try:
        x0 = np.asarray(x0)
    except Exception as exc:  # a sequence of unequal rows, an object that is no array
        raise PluginError(f"{what}: x0 is not an array: {one_line(exc)}") from None
    if x0.ndim != 1 or not (np.issubdtype(x0.dtype, np.integer) or np.issubdtype(x0.dtype, np.floating)):
        raise PluginError(f"{what}: x0 must be a 1-D array of real numbers, got {x0.dtype}{list(x0.shape)}")
    if n is not None and x0.shape != (n,):
        raise PluginError(f"{what}: its x0 has shape {list(x0.shape)}, which does not match --n {n}")
    if not np.all(np.isfinite(x0)):
        raise PluginError(f"{what}: x0 has non-finite entries (NaN or inf)")
    return jnp.asarray(x0, dtype=jnp.float64)


def given_start(x0: Any, n: int | None, what: str) -> tuple[jax.Array, str]:
    """A start given apart from the problem: an array, or ``module:attr`` naming one; checked like every
    start (1-D, real, finite, ``(n,)`` when ``n`` is given). Returns it and what to record for it."""
    spec = x0 if isinstance(x0, str) else None
    if spec is not None:
        what = f"{what}: x0 {spec!r}"
        x0 = load_target(spec, what)
    return checked_start(x0, n, what), spec or "given"


def with_start(problem: Problem, start: jax.Array, recorded: str, what: str) -> Problem:
    """``problem`` started at ``start`` (from :func:`given_start`, recorded in ``params["x0"]``), its
    objective checked there."""
    if start.shape != (problem.n,):
        raise PluginError(f"{what}: x0 has shape {list(start.shape)}, expected [{problem.n}]")
    started = dataclasses.replace(problem, x0=start, params={**problem.params, "x0": recorded})
    check_objective(started, what)
    return started


def user_problem(
    obj: Any,
    name: str,
    n: int | None,
    params: dict[str, Any],
    what: str,
    start: tuple[jax.Array, str] | None = None,
) -> Problem:
    """Build and check the problem ``obj`` (a function, a factory or a :class:`Problem`), named ``name``;
    ``start``: another start and what to record for it (from :func:`given_start`)."""
    if isinstance(obj, Problem):
        problem = obj
    elif callable(obj) and is_factory(obj):
        try:
            problem = obj(n, **params) if n is not None else obj(**params)
        except Exception as exc:
            raise PluginError(f"{what}: the factory raised {one_line(exc)}") from None
        if not isinstance(problem, Problem):
            raise PluginError(f"{what}: the factory returned {type(problem).__name__}, expected a Problem")
    elif callable(obj):
        if params:
            raise PluginError(f"{what}: a function takes no parameters, got {', '.join(sorted(params))}")
        x0 = start[0] if start is not None else _start(obj, n, what)
        problem = Problem(name, int(x0.shape[0]), objective_of(obj), x0, None, None, {})
    else:
        raise PluginError(
            f"{what}: {type(obj).__name__} is not callable (expected f(x) -> scalar or a factory)"
        )
    if n is not None and problem.n != n:
        raise PluginError(f"{what}: built a problem of dimension {problem.n}, which does not match --n {n}")
    if tuple(np.shape(problem.x0)) != (problem.n,):
        raise PluginError(f"{what}: x0 has shape {list(np.shape(problem.x0))}, expected [{problem.n}]")
    if start is not None:
        return dataclasses.replace(with_start(problem, *start, what), name=name)
    check_objective(problem, what)
    return dataclasses.replace(problem, name=name)


def check_objective(problem: Problem, what: str) -> None:
    """The objective traces at ``x0`` leaking no tracer, returns a finite float64 scalar; else one line."""
    try:
        with jax.checking_leaks():
            out = jax.eval_shape(problem.objective, problem.x0, problem.data)
    except Exception as exc:
        if str(exc).startswith("Leaked trace"):  # a tracer kept past its trace fails every later call
            raise PluginError(
                f"{what}: the objective leaks a tracer (it keeps a traced value, e.g. in a global cache)"
            ) from None
        raise PluginError(f"{what}: the objective does not trace at x0: {one_line(exc)}") from None
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != ():
        got = f"shape {list(shape)}" if shape is not None else type(out).__name__
        raise PluginError(f"{what}: the objective returns {got}, expected a scalar")
    if dtype != jnp.float64:  # the suite solves in float64 (and compares with SciPy there)
        raise PluginError(f"{what}: the objective returns {dtype}, expected a float64 scalar")
    value = float(jax.jit(problem.objective)(problem.x0, problem.data))
    if not np.isfinite(value):
        raise PluginError(
            f"{what}: the objective is {value} at x0 (it must be finite where the solve starts)"
        )
