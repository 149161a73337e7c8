"""``optax_loop`` and ``optax_while``: :func:`optax.lbfgs` driven by a Python loop around one jitted step,
and the whole solve as one jitted :func:`jax.lax.while_loop` (as in Optax's L-BFGS docs)."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lbfgs_impl._compat import keep_dtypes, require_x64, tree_get
from lbfgs_impl.problems import Objective, Problem
from lbfgs_impl.solvers.base import (
    Result,
    SolverBase,
    SolverConfig,
    StageTimes,
    add_stages,
    aot_compile,
    inf_norm,
    stop_status,
)


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
    return tree_get(state, "value"), inf_norm(tree_get(state, "grad"))


class _LoopOutput(NamedTuple):
    x: jax.Array
    value: jax.Array
    grad_inf_norm: jax.Array
    n_iter: jax.Array | int
    n_fev: jax.Array


def _optax_result(out: _LoopOutput, config: SolverConfig) -> Result:
    x, value, gnorm, n_iter, n_fev = jax.device_get(tuple(out))
    value, gnorm, n_iter = float(value), float(gnorm), int(n_iter)
    converged, status = stop_status(value, gnorm, n_iter, config)
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
            self._init, init_stages = aot_compile(self._init_fn, p.x0)
            carry_shapes = jax.eval_shape(self._init_fn, p.x0)
            self._step, step_stages = aot_compile(self._step_fn, *carry_shapes, p.data)
            self._stages = add_stages(init_stages, step_stages)
        return self._stages

    def run(self, observe: Any = None) -> _LoopOutput:
        """One solve; ``observe(value, grad_inf_norm)`` (optional, for the report) after each iteration."""
        self.compile()
        cfg, data = self.config, self.problem.data
        params, state, n_fev = self._init(self.problem.x0)
        n_iter = 0
        while True:
            params, state, n_fev, value, gnorm = self._step(params, state, n_fev, data)
            n_iter += 1
            value_h, gnorm_h = jax.device_get((value, gnorm))  # the one host sync per step
            if observe is not None:
                observe(float(value_h), float(gnorm_h))
            if not (np.isfinite(value_h) and gnorm_h > cfg.gtol) or n_iter >= cfg.maxiter:
                break
        return _LoopOutput(params, value, gnorm, n_iter, n_fev)

    def result(self, raw: _LoopOutput) -> Result:
        return _optax_result(raw, self.config)


class OptaxPythonLoop(SolverBase):
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
            self._solve, self._stages = aot_compile(fn, self.problem.x0, self.problem.data)
        return self._stages

    def run(self) -> _LoopOutput:
        self.compile()
        return jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))

    def launch(self) -> _LoopOutput:
        """Start one solve and return at once, before it has finished (JAX dispatches asynchronously).

        A timer stopped when this returns measures the launch, not the solve: ``lbfgs-bench pitfalls``
        shows the difference. Every timing in the suite uses :meth:`run`.
        """
        self.compile()
        return self._solve(self.problem.x0, self.problem.data)

    def result(self, raw: _LoopOutput) -> Result:
        return _optax_result(raw, self.config)


class OptaxWhileLoop(SolverBase):
    name = "optax_while"
    description = "optax.lbfgs inside one jitted jax.lax.while_loop"

    def prepare(self, problem: Problem, config: SolverConfig) -> _OptaxWhilePrepared:
        require_x64()
        return _OptaxWhilePrepared(problem, config.validate())
