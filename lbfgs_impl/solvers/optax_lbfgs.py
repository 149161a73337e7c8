"""``optax_loop`` and ``optax_while``: :func:`optax.lbfgs` driven by a Python loop around one jitted step
(a host-driven solve of the public protocol, :mod:`~lbfgs_impl.solvers.protocol`), and the whole solve
as one jitted :func:`jax.lax.while_loop` (a jittable solve; as in Optax's L-BFGS docs)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lbfgs_impl._compat import keep_dtypes, tree_get
from lbfgs_impl.problems import Objective
from lbfgs_impl.solvers.base import SolverConfig, inf_norm
from lbfgs_impl.solvers.protocol import Compile, HostSolver, JaxSolver


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
    """A solve's end: the protocol's ``x`` and ``n_iter``, and the loop's own figures (not used by the
    suite, which evaluates ``x`` and counts evaluations itself; the tests compare them)."""

    x: jax.Array
    value: jax.Array
    grad_inf_norm: jax.Array
    n_iter: jax.Array | int
    n_fev: jax.Array


class _LoopSteps(NamedTuple):
    init: Any
    step: Any
    data: Any


def optax_loop_setup(
    objective: Objective, x0: jax.Array, data: Any, config: SolverConfig, compile: Compile
) -> _LoopSteps:
    """``optax_loop``'s two executables, compiled ahead of timing: the start and one L-BFGS step."""
    opt = optax.lbfgs(memory_size=config.memory_size)

    def init_fn(x0: jax.Array) -> tuple[jax.Array, Any, jax.Array]:
        return x0, opt.init(x0), jnp.zeros((), jnp.int64)

    def step_fn(
        params: jax.Array, state: Any, n_fev: jax.Array, data: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array]:
        params, state, n_eval = _lbfgs_step(objective, opt, params, state, data)
        value, gnorm = _stored_value_and_grad_norm(state)
        return params, state, n_fev + n_eval, value, gnorm

    init = compile(init_fn, x0)
    step = compile(step_fn, *jax.eval_shape(init_fn, x0), data)
    return _LoopSteps(init, step, data)


def optax_loop(
    steps: _LoopSteps,
    x0: jax.Array,
    config: SolverConfig,
    observe: Callable[[float, float], None] | None = None,
) -> _LoopOutput:
    """The Python loop around the compiled step, with the stopping test on the host after every step;
    ``observe(value, grad_inf_norm)`` (optional, for the report) after each iteration."""
    init, step, data = steps
    params, state, n_fev = init(x0)
    n_iter = 0
    while True:
        params, state, n_fev, value, gnorm = step(params, state, n_fev, data)
        n_iter += 1
        value_h, gnorm_h = jax.device_get((value, gnorm))  # the one host sync per step
        if observe is not None:
            observe(float(value_h), float(gnorm_h))
        if not (np.isfinite(value_h) and gnorm_h > config.gtol) or n_iter >= config.maxiter:
            break
    return _LoopOutput(params, value, gnorm, n_iter, n_fev)


class OptaxPythonLoop(HostSolver):
    """The ``optax_loop`` solver: :func:`optax_loop` (with :func:`optax_loop_setup`) as a host-driven
    solver of the public protocol."""

    def __init__(self) -> None:
        super().__init__(
            optax_loop,
            "optax_loop",
            "optax.lbfgs, Python loop around one jitted step, host-side stopping test",
            setup=optax_loop_setup,
        )


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


def optax_while(objective: Objective, x0: jax.Array, data: Any, config: SolverConfig) -> _LoopOutput:
    """The jittable solve of the public protocol: :func:`while_loop_solve` with ``config``'s settings."""
    settings = {"gtol": config.gtol, "maxiter": config.maxiter, "memory_size": config.memory_size}
    return while_loop_solve(x0, data, objective=objective, **settings)


class OptaxWhileLoop(JaxSolver):
    """The ``optax_while`` solver: :func:`optax_while` as a jittable solver of the public protocol."""

    def __init__(self) -> None:
        super().__init__(
            optax_while,
            "optax_while",
            "optax.lbfgs inside one jitted jax.lax.while_loop",
            describe=lambda code, n_iter, config: "",  # the common rule says it all
        )
