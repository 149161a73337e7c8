"""The three L-BFGS variants behind one interface.

``SOLVERS[name].solve(problem, config) -> Result``, with

* ``scipy``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``, value
  and gradient from one jitted :func:`jax.value_and_grad`;
* ``optax_loop``: :func:`optax.lbfgs` driven by a Python loop around one jitted
  step; convergence is checked on the host after every step;
* ``optax_while``: the whole solve as one jitted :func:`jax.lax.while_loop`,
  as in Optax's L-BFGS documentation.

All three stop on the same rule: ``||g||_inf <= gtol`` or ``maxiter`` iterations.
For timing, ``solver.prepare(problem, config)`` returns a :class:`PreparedSolve`
whose ``compile()`` does every trace/lower/compile ahead of time and whose
``run()`` performs one complete solve and blocks until it is done. The
measurement core (:mod:`lbfgs_impl.measure`) only ever times those two calls.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from lbfgs_impl._compat import keep_dtypes, require_x64, tree_get
from lbfgs_impl.problems import Objective, Problem


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


def _status(value: float, grad_inf_norm: float, n_iter: int, config: SolverConfig) -> tuple[bool, str]:
    if not (np.isfinite(value) and np.isfinite(grad_inf_norm)):
        return False, "failed: objective or gradient is not finite (NaN/inf)"
    if grad_inf_norm <= config.gtol:
        return True, f"converged: ||g||_inf <= gtol={config.gtol:g}"
    if n_iter >= config.maxiter:
        return False, f"not converged: maxiter={config.maxiter} reached"
    return False, "not converged: stopped before reaching gtol"


def _aot_compile(fn: Callable[..., Any], *args: Any) -> tuple[Any, StageTimes]:
    """``jax.jit(fn).lower(*args).compile()``, timing the two stages."""
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, StageTimes(t1 - t0, t2 - t1)


def _add_stages(*stages: StageTimes) -> StageTimes:
    return StageTimes(sum(s.trace_lower_s for s in stages), sum(s.compile_s for s in stages))


class _SolverBase:
    name = ""
    description = ""

    def prepare(self, problem: Problem, config: SolverConfig) -> PreparedSolve:
        raise NotImplementedError

    def solve(self, problem: Problem, config: SolverConfig | None = None) -> Result:
        """Prepare, compile and run once; return the :class:`Result`."""
        prepared = self.prepare(problem, config or SolverConfig())
        prepared.compile()
        return prepared.result(prepared.run())

    def __repr__(self) -> str:
        return f"<solver {self.name!r}: {self.description}>"


# --------------------------------------------------------------------------- scipy


class _ScipyPrepared:
    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        self._value_and_grad: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        if self._value_and_grad is None:
            p = self.problem
            self._value_and_grad, self._stages = _aot_compile(jax.value_and_grad(p.objective), p.x0, p.data)
        return self._stages

    def run(self) -> tuple[scipy.optimize.OptimizeResult, int]:
        self.compile()
        value_and_grad, data = self._value_and_grad, self.problem.data
        n_calls = 0

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal n_calls
            n_calls += 1
            value, grad = value_and_grad(x, data)
            # np.asarray first: float() on a jax.Array takes a much slower path.
            return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)

        cfg = self.config
        res = scipy.optimize.minimize(
            fun,
            np.asarray(self.problem.x0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": cfg.maxiter,
                "maxcor": cfg.memory_size,
                "gtol": cfg.gtol,
                "ftol": 0.0,
                # An evaluation budget that cannot bind before maxiter does.
                "maxfun": 100 * cfg.maxiter + 100,
            },
        )
        return res, n_calls

    def result(self, raw: tuple[scipy.optimize.OptimizeResult, int]) -> Result:
        res, n_calls = raw
        value = float(res.fun)
        grad_inf = float(np.max(np.abs(res.jac)))
        n_iter = int(res.nit)
        converged, status = _status(value, grad_inf, n_iter, self.config)
        if not converged and np.isfinite(value) and n_iter < self.config.maxiter:
            status = f"not converged: scipy stopped: {res.message}"
        return Result(np.asarray(res.x), value, grad_inf, n_iter, n_calls, converged, status)


class ScipyLBFGSB(_SolverBase):
    name = "scipy"
    description = "scipy.optimize.minimize(method='L-BFGS-B'), jitted value_and_grad"

    def prepare(self, problem: Problem, config: SolverConfig) -> _ScipyPrepared:
        require_x64()
        return _ScipyPrepared(problem, config.validate())


# --------------------------------------------------------------------------- optax


def _inf_norm(g: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(g))


def _lbfgs_step(
    objective: Objective,
    opt: optax.GradientTransformationExtraArgs,
    params: jax.Array,
    state: Any,
    data: Any,
) -> tuple[jax.Array, Any, jax.Array]:
    """One L-BFGS iteration; returns ``(params, state, evaluations_used)``.

    Like :func:`optax.value_and_grad_from_state`, the value and gradient at
    ``params`` are reused from the linesearch state when present and finite,
    and evaluated otherwise (the first iteration). Counting that evaluation
    here, plus the linesearch's own steps (one evaluation each), gives the
    real number of ``value_and_grad`` calls made inside the compiled loop.
    """
    fun = functools.partial(objective, data=data)
    stored_value = tree_get(state, "value")
    stored_grad = tree_get(state, "grad")
    must_evaluate = ~jnp.isfinite(stored_value)
    value, grad = jax.lax.cond(
        must_evaluate,
        jax.value_and_grad(fun),
        lambda p: (stored_value, stored_grad),
        params,
    )
    updates, new_state = opt.update(grad, state, params, value=value, grad=grad, value_fn=fun)
    state = keep_dtypes(new_state, state)
    params = optax.apply_updates(params, updates)
    n_eval = must_evaluate.astype(jnp.int64) + tree_get(state, "num_linesearch_steps")
    return params, state, n_eval


def _stored_value_and_grad_norm(state: Any) -> tuple[jax.Array, jax.Array]:
    return tree_get(state, "value"), _inf_norm(tree_get(state, "grad"))


class _LoopOutput(NamedTuple):
    x: jax.Array
    value: jax.Array
    grad_inf_norm: jax.Array
    n_iter: jax.Array | int
    n_fev: jax.Array


def _optax_result(out: _LoopOutput, config: SolverConfig) -> Result:
    x, value, gnorm, n_iter, n_fev = jax.device_get(tuple(out))
    value, gnorm, n_iter = float(value), float(gnorm), int(n_iter)
    converged, status = _status(value, gnorm, n_iter, config)
    return Result(np.asarray(x), value, gnorm, n_iter, int(n_fev), converged, status)


class _OptaxLoopPrepared:
    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        self.opt = optax.lbfgs(memory_size=config.memory_size)
        self._init: Any = None
        self._step: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def _init_fn(self, x0: jax.Array) -> tuple[jax.Array, Any, jax.Array]:
        return x0, self.opt.init(x0), jnp.zeros((), jnp.int64)

    def _step_fn(
        self, params: jax.Array, state: Any, n_fev: jax.Array, data: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array]:
        params, state, n_eval = _lbfgs_step(self.problem.objective, self.opt, params, state, data)
        value, gnorm = _stored_value_and_grad_norm(state)
        return params, state, n_fev + n_eval, value, gnorm

    def compile(self) -> StageTimes:
        if self._step is None:
            p = self.problem
            self._init, init_stages = _aot_compile(self._init_fn, p.x0)
            carry_shapes = jax.eval_shape(self._init_fn, p.x0)
            self._step, step_stages = _aot_compile(self._step_fn, *carry_shapes, p.data)
            self._stages = _add_stages(init_stages, step_stages)
        return self._stages

    def run(self) -> _LoopOutput:
        self.compile()
        cfg, data = self.config, self.problem.data
        params, state, n_fev = self._init(self.problem.x0)
        n_iter = 0
        while True:
            params, state, n_fev, value, gnorm = self._step(params, state, n_fev, data)
            n_iter += 1
            value_h, gnorm_h = jax.device_get((value, gnorm))  # the one host sync per step
            if not (np.isfinite(value_h) and gnorm_h > cfg.gtol) or n_iter >= cfg.maxiter:
                break
        return _LoopOutput(params, value, gnorm, n_iter, n_fev)

    def result(self, raw: _LoopOutput) -> Result:
        return _optax_result(raw, self.config)


class OptaxPythonLoop(_SolverBase):
    name = "optax_loop"
    description = "optax.lbfgs, Python loop around one jitted step, host-side stopping test"

    def prepare(self, problem: Problem, config: SolverConfig) -> _OptaxLoopPrepared:
        require_x64()
        return _OptaxLoopPrepared(problem, config.validate())


def while_loop_solve(
    x0: jax.Array,
    data: Any,
    *,
    objective: Objective,
    gtol: float,
    maxiter: int,
    memory_size: int,
) -> _LoopOutput:
    """The complete L-BFGS solve as one ``lax.while_loop`` (jit it).

    Follows the example in Optax's L-BFGS docs, with the stopping test on the
    infinity norm of the gradient and evaluation counting added.
    """
    opt = optax.lbfgs(memory_size=memory_size)

    def keep_going(carry: tuple[jax.Array, Any, jax.Array, jax.Array]) -> jax.Array:
        _, state, n_iter, _ = carry
        value, gnorm = _stored_value_and_grad_norm(state)
        unfinished = jnp.isfinite(value) & (gnorm > gtol) & (n_iter < maxiter)
        return (n_iter == 0) | unfinished

    def body(carry: tuple[jax.Array, Any, jax.Array, jax.Array]):
        params, state, n_iter, n_fev = carry
        params, state, n_eval = _lbfgs_step(objective, opt, params, state, data)
        return params, state, n_iter + 1, n_fev + n_eval

    zero = jnp.zeros((), jnp.int64)
    params, state, n_iter, n_fev = jax.lax.while_loop(keep_going, body, (x0, opt.init(x0), zero, zero))
    value, gnorm = _stored_value_and_grad_norm(state)
    return _LoopOutput(params, value, gnorm, n_iter, n_fev)


class _OptaxWhilePrepared:
    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        self._solve: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        if self._solve is None:
            fn = functools.partial(
                while_loop_solve,
                objective=self.problem.objective,
                gtol=self.config.gtol,
                maxiter=self.config.maxiter,
                memory_size=self.config.memory_size,
            )
            self._solve, self._stages = _aot_compile(fn, self.problem.x0, self.problem.data)
        return self._stages

    def run(self) -> _LoopOutput:
        self.compile()
        return jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))

    def result(self, raw: _LoopOutput) -> Result:
        return _optax_result(raw, self.config)


class OptaxWhileLoop(_SolverBase):
    name = "optax_while"
    description = "optax.lbfgs inside one jitted jax.lax.while_loop"

    def prepare(self, problem: Problem, config: SolverConfig) -> _OptaxWhilePrepared:
        require_x64()
        return _OptaxWhilePrepared(problem, config.validate())


SOLVERS: dict[str, Solver] = {s.name: s for s in (ScipyLBFGSB(), OptaxPythonLoop(), OptaxWhileLoop())}


def solver_names() -> list[str]:
    """Names accepted by :func:`get_solver`."""
    return list(SOLVERS)


def get_solver(name: str) -> Solver:
    """Look a solver up by name; ``ValueError`` lists the valid names."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; valid solvers: {', '.join(SOLVERS)}") from None


def solve(solver: str, problem: Problem, config: SolverConfig | None = None) -> Result:
    """Solve ``problem`` with the named solver (convenience wrapper)."""
    return get_solver(solver).solve(problem, config or SolverConfig())
