"""The public solver protocol: how a plugin solver plugs into the suite.

Two kinds, each one plain function:

* **jittable** ``solve(objective, x0, data, config) -> state`` (like ``optax_while`` and
  the JAX peers): ``objective(x, data) -> scalar``; ``state`` has attributes ``x`` (shape
  of ``x0``) and ``n_iter`` (an integer scalar), optionally ``code`` (the library's status),
  e.g. :class:`SolveState`. The suite jits the function, AOT-compiles it, times it with
  zero compilations checked, evaluates the value and gradient at ``state.x`` itself,
  judges ``||g||_inf <= config.gtol`` and counts evaluations with its own counter;
* **host-driven** ``solve(value_and_grad, x0, config) -> state`` (like SciPy and
  ``optax_loop``): ``value_and_grad(x: np.ndarray) -> (float, np.ndarray)`` is the suite's
  compiled, counted evaluation; ``state`` as above (``x`` a NumPy array).

``config`` is a :class:`~lbfgs_impl.solvers.SolverConfig` (``gtol``, ``maxiter``,
``memory_size``). Wrap the function with :func:`jax_solver` or :func:`host_solver` to give
it a name, a description or an optional package; a bare function given as ``module:attr``
or an entry point is taken as a jittable solve.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from lbfgs_impl._compat import require_x64
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers.base import (
    JittedOutput,
    JittedSolver,
    Result,
    SolverBase,
    SolverConfig,
    SolverUnavailable,
    StageTimes,
    aot_compile,
    stop_status,
)

#: What a solve returns: ``x``, ``n_iter`` and the library's status ``code`` (0 by default).
SolveState = JittedOutput

JaxSolveFn = Callable[[Callable[..., Any], jax.Array, Any, SolverConfig], Any]
HostSolveFn = Callable[[Callable[[np.ndarray], tuple[float, np.ndarray]], np.ndarray, SolverConfig], Any]


class JaxSolver(JittedSolver):
    """A jittable solve function ``(objective, x0, data, config) -> state`` as a suite solver."""

    def __init__(
        self,
        fn: JaxSolveFn,
        name: str,
        description: str = "",
        package: str = "",
        describe: Callable[[int, int, SolverConfig], str] | None = None,
    ):
        self.fn, self.name, self.package = fn, name, package
        self.description = description or _first_doc_line(fn) or f"{name} (jittable plugin solve)"
        self._describe = describe
        if package:
            self.install_hint = f"pip install {package}"

    def jax_solve(self, objective: Callable[..., Any], x0: jax.Array, data: Any, config: SolverConfig) -> Any:
        return self.fn(objective, x0, data, config)

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        return (
            self._describe(code, n_iter, config) if self._describe else super().describe(code, n_iter, config)
        )


class _HostPrepared:
    def __init__(self, solver: HostSolver, problem: Problem, config: SolverConfig):
        self.solver, self.problem, self.config = solver, problem, config
        self._value_and_grad: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        if self._value_and_grad is None:
            p = self.problem
            self._value_and_grad, self._stages = aot_compile(jax.value_and_grad(p.objective), p.x0, p.data)
        return self._stages

    def run(self) -> tuple[Any, int]:
        self.compile()
        value_and_grad, data = self._value_and_grad, self.problem.data
        n_calls = 0

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal n_calls
            n_calls += 1
            value, grad = value_and_grad(np.asarray(x, dtype=np.float64), data)
            return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)

        state = self.solver.fn(fun, np.asarray(self.problem.x0, dtype=np.float64), self.config)
        return state, n_calls

    def result(self, raw: tuple[Any, int]) -> Result:
        state, n_calls = raw
        name = self.solver.name
        if not (hasattr(state, "x") and hasattr(state, "n_iter")):
            raise ValueError(
                f"solver {name!r} returned {type(state).__name__}, expected a state with x and n_iter"
            )
        x = np.asarray(state.x)
        if x.shape != tuple(self.problem.x0.shape) or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"solver {name!r} returned x of {x.dtype}{list(x.shape)}, expected float[{self.problem.n}]"
            )
        count = np.asarray(state.n_iter)
        if count.shape != () or not np.issubdtype(count.dtype, np.integer) or count < 0:
            raise ValueError(
                f"solver {name!r} returned n_iter {state.n_iter!r}, expected an integer >= 0 (a scalar)"
            )
        value, grad = self._value_and_grad(x.astype(np.float64), self.problem.data)  # the suite's own figures
        value, gnorm, n_iter = float(value), float(np.max(np.abs(np.asarray(grad)))), int(count)
        converged, status = stop_status(value, gnorm, n_iter, self.config)
        if not converged and n_iter < self.config.maxiter and np.isfinite(value):
            status = f"{status} ({name} status {int(getattr(state, 'code', 0))})"
        return Result(x, value, gnorm, n_iter, n_calls, converged, status)


class HostSolver(SolverBase):
    """A host-driven solve function ``(value_and_grad, x0, config) -> state`` as a suite solver.

    ``value_and_grad`` is jitted and AOT-compiled by the suite (its compilation is the
    solver's compile stage); the suite counts its calls and evaluates the final point itself.
    """

    def __init__(self, fn: HostSolveFn, name: str, description: str = "", package: str = ""):
        self.fn, self.name, self.package = fn, name, package
        self.description = description or _first_doc_line(fn) or f"{name} (host-driven plugin solve)"

    def unavailable_reason(self) -> str | None:
        import importlib.util

        if self.package and importlib.util.find_spec(self.package) is None:
            return f"{self.package} is not installed (pip install {self.package})"
        return None

    def prepare(self, problem: Problem, config: SolverConfig) -> _HostPrepared:
        reason = self.unavailable_reason()
        if reason:
            raise SolverUnavailable(f"{self.name}: {reason}")
        require_x64()
        return _HostPrepared(self, problem, config.validate())


def jax_solver(name: str, description: str = "", package: str = "") -> Callable[[JaxSolveFn], JaxSolver]:
    """Decorator: a jittable ``(objective, x0, data, config) -> state`` function as a named solver."""
    return lambda fn: JaxSolver(fn, name, description, package)


def host_solver(name: str, description: str = "", package: str = "") -> Callable[[HostSolveFn], HostSolver]:
    """Decorator: a host-driven ``(value_and_grad, x0, config) -> state`` function as a named solver."""
    return lambda fn: HostSolver(fn, name, description, package)


def _first_doc_line(fn: Any) -> str:
    return (inspect.getdoc(fn) or "").strip().split("\n")[0]


def as_solver(obj: Any, name: str, what: str) -> Any:
    """A loaded plugin object as a solver named ``name``; ``ValueError`` in one line when it is none.

    Accepts a solver object (``prepare``/``solve``/``unavailable_reason``), a class of one
    (instantiated without arguments) or a plain function (a jittable solve).
    """
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ValueError(
                f"{what}: the class {obj.__name__} cannot be built without arguments: {exc}"
            ) from None
    if all(hasattr(obj, a) for a in ("prepare", "solve", "unavailable_reason")):
        if getattr(obj, "name", None) != name:
            if isinstance(obj, JaxSolver | HostSolver):
                obj.name = name  # named by where it was found, so that a child process finds it again
            else:
                raise ValueError(
                    f"{what}: loads a solver named {getattr(obj, 'name', None)!r}, expected {name!r}"
                )
        return obj
    if callable(obj):
        return JaxSolver(obj, name)
    raise ValueError(f"{what}: {type(obj).__name__} is not callable (expected a solve function or a solver)")
