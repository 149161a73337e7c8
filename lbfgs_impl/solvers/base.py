"""What every solver shares: the config, the result, the prepare/compile/run/result protocol."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import numpy as np

from lbfgs_impl.problems import Problem


class SolverUnavailable(RuntimeError):
    """An optional solver's package is not installed; the message says how to get it."""


class PathMismatch(RuntimeError):
    """An untimed counting solve did not take the timed solve's path (its counts are not theirs)."""


class SolverConfig(NamedTuple):
    """Stopping rule and memory shared by every variant.

    Attributes:
      gtol: stop when the infinity norm of the gradient is <= gtol (default 1e-5).
      maxiter: stop after this many iterations (default 1000).
      memory_size: number of (s, y) pairs kept by L-BFGS (default 10).
    """

    gtol: float = 1e-5
    maxiter: int = 1000
    memory_size: int = 10

    def validate(self) -> SolverConfig:
        """Return self, or raise ``ValueError`` naming the bad field."""
        if not (isinstance(self.gtol, (int, float)) and np.isfinite(self.gtol) and self.gtol > 0):
            raise ValueError(f"gtol must be a finite number > 0, got {self.gtol!r}")
        for name in ("maxiter", "memory_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        return self


class Result(NamedTuple):
    """Outcome of one solve.

    Attributes:
      x: final iterate, float64 array of shape ``(n,)``.
      value: objective value at ``x``.
      grad_inf_norm: infinity norm of the gradient at ``x``.
      n_iter: iterations performed.
      n_fev: objective+gradient evaluations performed (each one evaluation of
        ``value_and_grad``), counted while the solve ran.
      converged: ``grad_inf_norm <= gtol`` with a finite value.
      status: one line saying why the solve stopped.
    """

    x: np.ndarray
    value: float
    grad_inf_norm: float
    n_iter: int
    n_fev: int
    converged: bool
    status: str


class StageTimes(NamedTuple):
    """Wall seconds spent ahead of the run by :meth:`PreparedSolve.compile`."""

    trace_lower_s: float
    compile_s: float


class PreparedSolve(Protocol):
    """A solve bound to one problem and config, ready to be timed."""

    def compile(self) -> StageTimes:
        """Trace, lower and compile everything ``run`` needs (idempotent)."""
        ...

    def run(self) -> Any:
        """One complete solve from ``problem.x0``; returns only when finished."""
        ...

    def result(self, raw: Any) -> Result:
        """Turn what ``run`` returned into a :class:`Result` (not timed)."""
        ...


class Solver(Protocol):
    """A named L-BFGS variant."""

    name: str
    description: str

    def prepare(self, problem: Problem, config: SolverConfig) -> PreparedSolve: ...

    def solve(self, problem: Problem, config: SolverConfig) -> Result: ...

    def unavailable_reason(self) -> str | None: ...


def stop_status(value: float, grad_inf_norm: float, n_iter: int, config: SolverConfig) -> tuple[bool, str]:
    if not (np.isfinite(value) and np.isfinite(grad_inf_norm)):
        return False, "failed: objective or gradient is not finite (NaN/inf)"
    if grad_inf_norm <= config.gtol:
        return True, f"converged: ||g||_inf <= gtol={config.gtol:g}"
    if n_iter >= config.maxiter:
        return False, f"not converged: maxiter={config.maxiter} reached"
    return False, "not converged: stopped before reaching gtol"


#: ``hook(fn, args) -> (compiled, StageTimes)`` replacing :func:`aot_compile` while set: the counting
#: engine (:mod:`lbfgs_impl.measure.native_aot`) records each executable natively, then serves it to
#: the counted process in the same order instead of compiling there.
AotHook = Callable[[Callable[..., Any], tuple[Any, ...]], tuple[Any, "StageTimes"]]
_aot_hook: list[AotHook] = []


def set_aot_hook(hook: AotHook | None) -> None:
    """Route every :func:`aot_compile` through ``hook`` (``None``: compile as usual again)."""
    _aot_hook[:] = [] if hook is None else [hook]


def aot_compile(fn: Callable[..., Any], *args: Any) -> tuple[Any, StageTimes]:
    """``jax.jit(fn).lower(*args).compile()``, timing the two stages (or the hook's, while one is set)."""
    if _aot_hook:
        return _aot_hook[0](fn, args)
    return plain_aot_compile(fn, *args)


def plain_aot_compile(fn: Callable[..., Any], *args: Any) -> tuple[Any, StageTimes]:
    """:func:`aot_compile` without the hook."""
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, StageTimes(t1 - t0, t2 - t1)


def add_stages(*stages: StageTimes) -> StageTimes:
    return StageTimes(sum(s.trace_lower_s for s in stages), sum(s.compile_s for s in stages))


class SolverBase:
    name = ""
    description = ""
    #: keeps a dense n x n inverse Hessian (BFGS): memory n^2 and an n^2 update per iteration
    dense_hessian = False
    #: reports accepted steps as iterations while its loop body also runs for rejected ones
    iterations_are_accepted_steps = False

    def prepare(self, problem: Problem, config: SolverConfig) -> PreparedSolve:
        raise NotImplementedError

    def unavailable_reason(self) -> str | None:
        """Why this solver cannot run in this environment (a missing optional package), or ``None``."""
        return None

    def solve(self, problem: Problem, config: SolverConfig | None = None) -> Result:
        """Prepare, compile and run once; return the :class:`Result`."""
        prepared = self.prepare(problem, config or SolverConfig())
        prepared.compile()
        return prepared.result(prepared.run())

    def __repr__(self) -> str:
        return f"<solver {self.name!r}: {self.description}>"


# --------------------------------------------------------------------------- one-jit solvers


class JittedOutput(NamedTuple):
    """What a jittable solve returns (public as :class:`lbfgs_impl.solvers.SolveState`).

    Attributes:
      x: the final iterate, shape ``(n,)`` like ``x0``.
      n_iter: iterations performed (an integer scalar).
      code: the library's own status code (0 by default), explained by the solver's ``describe``.
    """

    x: jax.Array
    n_iter: jax.Array
    code: jax.Array | int = 0


def checked_state(state: Any, x0: jax.Array, name: str) -> JittedOutput:
    """A jittable solve's return value as a :class:`JittedOutput`, or ``ValueError`` saying what is wrong.

    Accepts anything with attributes ``x`` and ``n_iter`` (and optionally ``code``); runs at trace
    time, so a wrong shape is refused before anything is compiled.
    """
    import jax.numpy as jnp

    if not (hasattr(state, "x") and hasattr(state, "n_iter")):
        raise ValueError(
            f"solver {name!r} returned {type(state).__name__}, expected a state with attributes x and n_iter "
            "(e.g. lbfgs_impl.solvers.SolveState)"
        )
    x, n_iter, code = state.x, jnp.asarray(state.n_iter), jnp.asarray(getattr(state, "code", 0))
    if getattr(x, "shape", None) != x0.shape or getattr(x, "dtype", None) != x0.dtype:
        got = f"{getattr(x, 'dtype', type(x).__name__)}{list(getattr(x, 'shape', ()))}"
        raise ValueError(f"solver {name!r} returned x of {got}, expected {x0.dtype}{list(x0.shape)} like x0")
    if n_iter.shape != () or not jnp.issubdtype(n_iter.dtype, jnp.integer):
        raise ValueError(
            f"solver {name!r} returned n_iter of {n_iter.dtype}{list(n_iter.shape)}, expected an integer"
        )
    return JittedOutput(x, n_iter, code)


BuildFn = Callable[[Callable[..., Any], SolverConfig], Callable[[jax.Array, Any], JittedOutput]]


def inf_norm(g: jax.Array) -> jax.Array:
    return jax.numpy.max(jax.numpy.abs(g))


#: evaluation counts already taken, per problem: ``{(solver key, config): (calls, x, n_iter)}`` (a count
#: is deterministic; each timed output is still checked against the counted path)
_COUNTS: weakref.WeakKeyDictionary[Problem, dict[tuple[Any, SolverConfig], tuple[int, Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


#: the suite's value_and_grad of each problem, compiled once and kept (a cleared JAX cache keeps it too)
_EVALUATORS: weakref.WeakKeyDictionary[Problem, Any] = weakref.WeakKeyDictionary()


def final_point(problem: Problem) -> Callable[..., tuple[Any, Any]]:
    """``(x, data) -> (value, grad)`` of ``problem``, what the suite evaluates a solve's final ``x`` with:
    compiled on first use and kept for the problem, so that a later result (a first-call sample's,
    after JAX's caches were cleared) compiles nothing."""
    held = _EVALUATORS.get(problem)
    if held is None:
        held = jax.jit(jax.value_and_grad(problem.objective)).lower(problem.x0, problem.data).compile()
        _EVALUATORS[problem] = held
    return held


def counted_once(
    problem: Problem, key: Any, config: SolverConfig, count: Callable[[], tuple[int, Any, Any]]
) -> tuple[int, Any, Any]:
    """``count()`` -> ``(calls, x, n_iter)`` of a counting solve, run once per problem, solver and config."""
    held = _COUNTS.setdefault(problem, {})
    if (key, config) not in held:
        held[(key, config)] = count()
    return held[(key, config)]


def counting(objective: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[[], int]]:
    """``objective`` with a host counter bumped on every call (:func:`jax.debug.callback`), and the
    counter's reader (call :func:`jax.effects_barrier` first)."""
    calls = 0

    def bump() -> None:
        nonlocal calls
        calls += 1

    def counted(x: jax.Array, data: Any) -> jax.Array:
        jax.debug.callback(bump)
        return objective(x, data)

    return counted, lambda: calls


class JittedPrepared:
    """A :class:`PreparedSolve` for a library solve that runs as one jitted function.

    ``build(objective, config)`` returns ``solve(x0, data) -> JittedOutput``.
    The final value and gradient are evaluated at the returned ``x`` in
    :meth:`result` (not timed), so every solver's figures come from the same
    place. Objective evaluations are counted in one extra, untimed solve whose
    objective bumps a host counter (:func:`jax.debug.callback`) on each call: the
    solve is deterministic, so the count is that of the timed solves, which
    :meth:`count_evaluations` checks (same iterations, same final ``x``) and
    raises :class:`PathMismatch` otherwise. The counting solve runs once per
    problem, solver and config in a process.
    """

    def __init__(
        self,
        problem: Problem,
        config: SolverConfig,
        build: BuildFn,
        describe: Callable[[int, int, SolverConfig], str],
    ):
        self.problem, self.config = problem, config
        self._build, self._describe = build, describe
        self._solve: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        if self._solve is None:
            p = self.problem
            self._solve, self._stages = aot_compile(self._build(p.objective, self.config), p.x0, p.data)
        return self._stages

    def run(self) -> JittedOutput:
        self.compile()
        return jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))

    def launch(self) -> JittedOutput:
        """Start one solve and return at once, before it has finished (JAX dispatches asynchronously).

        A timer stopped when this returns measures the launch, not the solve: ``lbfgs-bench pitfalls``
        shows the difference. Every timing in the suite uses :meth:`run`.
        """
        self.compile()
        return self._solve(self.problem.x0, self.problem.data)

    def _count(self) -> tuple[int, Any, Any]:
        counted, calls = counting(self.problem.objective)
        solve = jax.jit(self._build(counted, self.config))
        out = jax.block_until_ready(solve(self.problem.x0, self.problem.data))
        jax.effects_barrier()
        return calls(), *jax.device_get((out.x, out.n_iter))

    def count_evaluations(self, timed: JittedOutput | None = None) -> int:
        """Objective calls of one solve, counted on the host (an extra, untimed solve).

        With ``timed`` (a timed solve's output), the counted solve must have ended
        at the same ``x`` after the same number of iterations, or :class:`PathMismatch`.
        """
        key = getattr(self._build, "__self__", self._build)
        calls, x, n_iter = counted_once(self.problem, key, self.config, self._count)
        if timed is not None:
            check_same_path((x, n_iter), (timed.x, timed.n_iter), self.problem.label)
        return calls

    def outcome(self, raw: JittedOutput) -> Result:
        """:meth:`result` without the evaluation count (``n_fev=-1``): no extra solve, nothing compiled
        but the value and gradient at the final ``x``. For a caller that needs where the solve ended."""
        x, n_iter, code = jax.device_get(tuple(raw))
        value, grad = final_point(self.problem)(np.asarray(x, dtype=np.float64), self.problem.data)
        value, gnorm, n_iter = float(np.asarray(value)), float(np.max(np.abs(np.asarray(grad)))), int(n_iter)
        converged, text = stop_status(value, gnorm, n_iter, self.config)
        said = "" if converged else self._describe(int(code), n_iter, self.config)
        return Result(np.asarray(x), value, gnorm, n_iter, -1, converged, f"{text}; {said}" if said else text)

    def result(self, raw: JittedOutput) -> Result:
        return self.outcome(raw)._replace(n_fev=self.count_evaluations(raw))


def check_same_path(counted: tuple[Any, Any], timed: tuple[Any, Any], label: str) -> None:
    """``(x, n_iter)`` of the counting solve and of a timed one agree, else :class:`PathMismatch`."""
    (cx, cn), (tx, tn) = jax.device_get(tuple(counted)), jax.device_get(tuple(timed))
    cx, tx = np.asarray(cx), np.asarray(tx)
    if int(cn) != int(tn) or not np.allclose(cx, tx, rtol=1e-9, atol=1e-12, equal_nan=True):
        raise PathMismatch(
            f"{label}: the counting solve took another path than the timed one ({int(cn)} iterations vs "
            f"{int(tn)}, max |dx| {float(np.max(np.abs(cx - tx))):.3g}); its evaluation count is not theirs"
        )


class JittedSolver(SolverBase):
    """A solver whose whole solve is one jittable function (the public protocol's first kind).

    Subclasses implement :meth:`jax_solve` ``(objective, x0, data, config) -> state``; the
    suite jits it, times it, evaluates the value and gradient at the returned ``x`` itself
    and counts evaluations with its own counter. The optional package is checked up front.
    """

    package = ""  # import name of the optional package ("" = always there)
    install_hint = "pip install 'lbfgs-bench[peers]'"

    def jax_solve(self, objective: Callable[..., Any], x0: jax.Array, data: Any, config: SolverConfig) -> Any:
        """The whole solve, traceable by :func:`jax.jit`; returns a state with ``x`` and ``n_iter``."""
        raise NotImplementedError

    def build(self, objective: Callable[..., Any], config: SolverConfig) -> Callable[..., JittedOutput]:
        """``solve(x0, data) -> JittedOutput`` with ``objective`` and ``config`` bound (jit it)."""

        def solve(x0: jax.Array, data: Any) -> JittedOutput:
            return checked_state(self.jax_solve(objective, x0, data, config), x0, self.name)

        return solve

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        """One phrase for the library's status ``code`` (said when the solve did not converge)."""
        return f"{self.name} stopped with status {code} after {n_iter} iteration(s)"

    def unavailable_reason(self) -> str | None:
        import importlib.util

        if self.package and importlib.util.find_spec(self.package) is None:
            return f"{self.package} is not installed ({self.install_hint})"
        return None

    def prepare(self, problem: Problem, config: SolverConfig) -> JittedPrepared:
        from lbfgs_impl._compat import require_x64

        reason = self.unavailable_reason()
        if reason:
            raise SolverUnavailable(f"{self.name}: {reason}")
        require_x64()
        return JittedPrepared(problem, config.validate(), self.build, self.describe)
