"""The public solver protocol: how a plugin solver plugs into the suite.

Two kinds, each one plain function:

* **jittable** ``solve(objective, x0, data, config) -> state`` (like ``optax_while`` and
  the JAX peers): ``objective(x, data) -> scalar``; ``state`` has attributes ``x`` (shape
  of ``x0``) and ``n_iter`` (an integer scalar), optionally ``code`` (the library's status),
  e.g. :class:`SolveState`. The suite jits the function, AOT-compiles it, times it with
  zero compilations checked, evaluates the value and gradient at ``state.x`` itself,
  judges ``||g||_inf <= config.gtol`` and counts evaluations with its own counter;
* **host-driven** ``solve(value_and_grad, x0, config) -> state`` (like SciPy):
  ``value_and_grad(x: np.ndarray) -> (float, np.ndarray)`` is the suite's compiled, counted
  evaluation; ``state`` as above (``x`` a NumPy array), optionally ``message`` (a string said
  when the solve stopped short). A host loop around compiled steps of its own (like
  ``optax_loop``) adds ``setup(objective, x0, data, config, compile) -> steps``, run ahead of
  timing (``compile(fn, *args)`` AOT-compiles a step and records its stages); the solve is then
  ``solve(steps, x0, config) -> state`` and the suite counts the evaluations inside the steps
  in one extra, untimed solve whose objective counts its calls.

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
    add_stages,
    aot_compile,
    check_same_path,
    counted_once,
    counting,
    final_point,
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
        install_hint: str = "",
    ):
        self.fn, self.name, self.package = fn, name, package
        self.description = description or _first_doc_line(fn) or f"{name} (jittable plugin solve)"
        self._describe = describe
        if install_hint or package:
            self.install_hint = install_hint or f"pip install {package}"

    def jax_solve(self, objective: Callable[..., Any], x0: jax.Array, data: Any, config: SolverConfig) -> Any:
        return self.fn(objective, x0, data, config)

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        return (
            self._describe(code, n_iter, config) if self._describe else super().describe(code, n_iter, config)
        )


class Compile:
    """What a host solver's ``setup`` compiles its steps with: ``compile(fn, *args)`` AOT-compiles
    ``fn`` for ``args`` (arrays or :func:`jax.eval_shape` shapes) and adds its stages to the solver's."""

    def __init__(self, aot: bool = True):
        self.aot, self.stages = aot, StageTimes(0.0, 0.0)

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.aot:  # the untimed counting solve: compiled on first call, nothing recorded
            return jax.jit(fn)
        compiled, stages = aot_compile(fn, *args)
        self.stages = add_stages(self.stages, stages)
        return compiled


#: The alignment XLA's CPU client needs to use a host array in place (``cpu_function_runtime::MinAlign``).
HOST_ALIGNMENT = 64


def aligned_buffer(n: int, alignment: int = HOST_ALIGNMENT) -> np.ndarray:
    """A float64 array of ``n`` elements whose data starts on an ``alignment``-byte boundary."""
    raw = np.empty(n * 8 + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + n * 8].view(np.float64)


class HostPrepared:
    """A :class:`~lbfgs_impl.solvers.PreparedSolve` for a host-driven solve (:class:`HostSolver`).

    Without ``setup``, :meth:`compile` AOT-compiles the suite's ``value_and_grad`` and :meth:`run`
    hands it to the solve, counting its calls. With ``setup``, :meth:`compile` runs the setup (its
    compilations are the stages), and the evaluations made inside its compiled steps are counted in
    one extra, untimed solve whose objective counts its calls (checked to take the timed path).
    """

    def __init__(self, solver: HostSolver, problem: Problem, config: SolverConfig):
        self.solver, self.problem, self.config = solver, problem, config
        self._value_and_grad: Any = None
        self._steps: Any = None
        #: the compiled step one iteration runs, where the setup's steps name one (``steps.step``): what
        #: ``explain`` reads its static figures from (``_value_and_grad`` without a setup)
        self._step: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        p, setup = self.problem, self.solver.setup
        if setup is None and self._value_and_grad is None:
            self._value_and_grad, self._stages = aot_compile(jax.value_and_grad(p.objective), p.x0, p.data)
        elif setup is not None and self._steps is None:
            compile_ = Compile()
            self._steps = setup(p.objective, p.x0, p.data, self.config, compile_)
            self._step, self._stages = getattr(self._steps, "step", None), compile_.stages
        return self._stages

    def _call(self, first: Any, x0: Any, observe: Callable[[float, float], None] | None) -> Any:
        if observe is None:
            return self.solver.fn(first, x0, self.config)
        if not self.solver.observes:
            raise TypeError(f"solver {self.solver.name!r} takes no observe= callback")
        return self.solver.fn(first, x0, self.config, observe=observe)

    def run(self, observe: Callable[[float, float], None] | None = None) -> tuple[Any, int]:
        """One solve: ``(state, calls of value_and_grad)``; ``observe(value, grad_inf_norm)`` after each
        iteration where the solve function takes ``observe`` (for the report's convergence traces)."""
        self.compile()
        if self.solver.setup is not None:
            return self._call(self._steps, self.problem.x0, observe), 0
        value_and_grad, data = self._value_and_grad, self.problem.data
        n_calls = 0
        x_in = aligned_buffer(self.problem.n)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal n_calls
            n_calls += 1
            # Always the same transfer: JAX imports a 64-byte-aligned host array without a copy and
            # copies any other, so passing the solver's own array made the work of an evaluation
            # depend on where the allocator had put it (0.3% of a small solve's instructions).
            x_in[...] = x
            value, grad = value_and_grad(x_in, data)
            # np.asarray first: float() on a jax.Array takes a much slower path.
            return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)

        state = self._call(fun, np.asarray(self.problem.x0, dtype=np.float64), observe)
        return state, n_calls

    def _count(self) -> tuple[int, Any, Any]:
        p = self.problem
        counted, calls = counting(p.objective)
        steps = self.solver.setup(counted, p.x0, p.data, self.config, Compile(aot=False))
        state = self.solver.fn(steps, p.x0, self.config)
        jax.block_until_ready(state.x)
        jax.effects_barrier()
        return calls(), *jax.device_get((state.x, state.n_iter))

    def _checked(self, state: Any) -> tuple[np.ndarray, int]:
        name = self.solver.name
        if not (hasattr(state, "x") and hasattr(state, "n_iter")):
            raise ValueError(
                f"solver {name!r} returned {type(state).__name__}, expected a state with x and n_iter"
            )
        x = np.asarray(jax.device_get(state.x))
        if x.shape != tuple(self.problem.x0.shape) or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"solver {name!r} returned x of {x.dtype}{list(x.shape)}, expected float[{self.problem.n}]"
            )
        count = np.asarray(jax.device_get(state.n_iter))
        if count.shape != () or not np.issubdtype(count.dtype, np.integer) or count < 0:
            raise ValueError(
                f"solver {name!r} returned n_iter {state.n_iter!r}, expected an integer >= 0 (a scalar)"
            )
        return x, int(count)

    def outcome(self, raw: tuple[Any, int]) -> Result:
        """:meth:`result` without the counting solve of a solve with compiled steps (``n_fev=-1`` then):
        for a caller that needs only where the solve ended."""
        state, n_calls = raw
        x, n_iter = self._checked(state)
        evaluate = self._value_and_grad or final_point(self.problem)  # with setup: the suite's own, kept
        value, grad = evaluate(x.astype(np.float64), self.problem.data)  # the suite's own figures
        value, gnorm = float(np.asarray(value)), float(np.max(np.abs(np.asarray(grad))))
        converged, status = stop_status(value, gnorm, n_iter, self.config)
        if not converged and n_iter < self.config.maxiter and np.isfinite(value):
            message = getattr(state, "message", None)
            code = int(np.asarray(getattr(state, "code", 0)))
            said = message if isinstance(message, str) else self.solver.describe(code, n_iter, self.config)
            status = f"not converged: {self.solver.name} stopped: {said}"
        return Result(x, value, gnorm, n_iter, -1 if self.solver.setup else n_calls, converged, status)

    def result(self, raw: tuple[Any, int]) -> Result:
        ended = self.outcome(raw)
        if self.solver.setup is None:
            return ended
        n_calls, cx, cn = counted_once(self.problem, self.solver, self.config, self._count)
        check_same_path((cx, cn), (ended.x, ended.n_iter), self.problem.label)
        return ended._replace(n_fev=n_calls)


class HostSolver(SolverBase):
    """A host-driven solve function as a suite solver.

    Plain form: ``fn(value_and_grad, x0, config) -> state``; ``value_and_grad`` is jitted and
    AOT-compiled by the suite (its compilation is the solver's compile stage), and the suite counts
    its calls. With ``setup(objective, x0, data, config, compile) -> steps`` (a solve that runs
    compiled steps of its own, like ``optax_loop``): ``setup`` runs ahead of timing, compiling its
    steps with ``compile(fn, *args)``, and the solve is ``fn(steps, x0, config) -> state``. Either
    way the suite evaluates the final point itself. ``fn`` may take ``observe=`` (a callback
    ``observe(value, grad_inf_norm)`` it calls after each iteration).
    """

    def __init__(
        self,
        fn: HostSolveFn,
        name: str,
        description: str = "",
        package: str = "",
        setup: Callable[..., Any] | None = None,
        describe: Callable[[int, int, SolverConfig], str] | None = None,
    ):
        self.fn, self.name, self.package, self.setup = fn, name, package, setup
        self.description = description or _first_doc_line(fn) or f"{name} (host-driven plugin solve)"
        self._describe = describe
        try:
            self.observes = "observe" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self.observes = False

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        """One phrase for the solve's status ``code`` (said when it did not converge)."""
        if self._describe is not None:
            return self._describe(code, n_iter, config)
        return f"status {code} after {n_iter} iteration(s)"

    def unavailable_reason(self) -> str | None:
        import importlib.util

        if self.package and importlib.util.find_spec(self.package) is None:
            return f"{self.package} is not installed (pip install {self.package})"
        return None

    def prepare(self, problem: Problem, config: SolverConfig) -> HostPrepared:
        reason = self.unavailable_reason()
        if reason:
            raise SolverUnavailable(f"{self.name}: {reason}")
        require_x64()
        return HostPrepared(self, problem, config.validate())


def jax_solver(name: str, description: str = "", package: str = "") -> Callable[[JaxSolveFn], JaxSolver]:
    """Decorator: a jittable ``(objective, x0, data, config) -> state`` function as a named solver."""
    return lambda fn: JaxSolver(fn, name, description, package)


def host_solver(
    name: str, description: str = "", package: str = "", setup: Callable[..., Any] | None = None
) -> Callable[[HostSolveFn], HostSolver]:
    """Decorator: a host-driven ``(value_and_grad, x0, config) -> state`` function as a named solver
    (with ``setup``: ``(steps, x0, config) -> state``, see :class:`HostSolver`)."""
    return lambda fn: HostSolver(fn, name, description, package, setup)


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
