"""The step-loop pitfalls: optax_loop's step run eagerly, jitted anew every iteration, or timed unblocked.

Each loop runs the step ``optax_loop`` runs (:func:`lbfgs_impl.solvers.optax_lbfgs._lbfgs_step`,
the same body as ``optax_while``'s), driven on the host with the same stopping test, so its
iterations are those of the correct loop wherever it runs to the end.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lbfgs_impl._compat import tree_get
from lbfgs_impl.measure.timing import assert_no_compilations, count_compilations
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig
from lbfgs_impl.solvers.base import inf_norm, stop_status
from lbfgs_impl.solvers.optax_lbfgs import _lbfgs_step

Step = Callable[..., tuple[Any, ...]]


def make_step(objective: Any, memory_size: int) -> tuple[Callable[[jax.Array], Any], Step]:
    """``init(x0) -> (params, state, n_fev)`` and ``step(params, state, n_fev, data)`` as optax_loop's."""
    opt = optax.lbfgs(memory_size=memory_size)

    def init(x0: jax.Array) -> tuple[jax.Array, Any, jax.Array]:
        return x0, opt.init(x0), jnp.zeros((), jnp.int64)

    def step(params: jax.Array, state: Any, n_fev: jax.Array, data: Any) -> tuple[Any, ...]:
        params, state, n_eval = _lbfgs_step(objective, opt, params, state, data)
        return params, state, n_fev + n_eval, tree_get(state, "value"), inf_norm(tree_get(state, "grad"))

    return init, step


def drive(
    carry: tuple[Any, ...],
    call: Step,
    problem: Problem,
    config: SolverConfig,
    max_steps: int | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """optax_loop's host loop around ``call`` (one host sync per step).

    Keeps every iteration's end time and, with ``log`` (a compile log), how many
    compilations the first iteration and the later ones made.
    """
    params, state, n_fev = carry
    n_iter, ends, compiled = 0, [], []
    while True:
        params, state, n_fev, value, gnorm = call(params, state, n_fev, problem.data)
        n_iter += 1
        value_h, gnorm_h = jax.device_get((value, gnorm))
        ends.append(time.perf_counter())
        if log is not None:
            compiled.append(log.n_compilations)
        if not (np.isfinite(value_h) and gnorm_h > config.gtol) or n_iter >= config.maxiter:
            break
        if max_steps is not None and n_iter >= max_steps:
            break
    value_f, gnorm_f = float(value_h), float(gnorm_h)
    converged, status = stop_status(value_f, gnorm_f, n_iter, config)
    split: dict[str, int] = {}
    if compiled:
        split = {
            "compilations_first_iteration": compiled[0],
            "compilations_later_iterations": compiled[-1] - compiled[0],
        }
    return {
        "n_iter": n_iter,
        "n_fev": int(jax.device_get(n_fev)),
        "converged": converged,
        "status": status,
        "ends": ends,
        **split,
    }


def _iteration_seconds(start: float, ends: list[float]) -> list[float]:
    return [b - a for a, b in zip([start, *ends[:-1]], ends, strict=True)]


def jit_anew(init: Any, step: Step, problem: Problem, config: SolverConfig) -> dict[str, Any]:
    """The whole loop with ``jax.jit(step)`` called anew every iteration; one run, timed and counted.

    ``step`` should be one JAX has not compiled yet (fresh from :func:`make_step`): the run's
    first iteration then compiles it, as in a program that does this.
    """
    carry = jax.block_until_ready(jax.jit(init)(problem.x0))

    def call(*args: Any) -> tuple[Any, ...]:
        return jax.jit(step)(*args)

    with count_compilations() as log:
        t0 = time.perf_counter()
        out = drive(carry, call, problem, config, log=log)
        seconds = time.perf_counter() - t0
    per_iteration = _iteration_seconds(t0, out.pop("ends"))
    return {
        **out,
        "seconds": seconds,
        "samples": [seconds],
        "n_compilations": log.n_compilations,
        "compile_s": log.compile_s,
        "first_iteration_s": per_iteration[0],
        "later_iteration_median_s": statistics.median(per_iteration[1:]) if len(per_iteration) > 1 else None,
    }


def eager(
    init: Any, step: Step, problem: Problem, config: SolverConfig, cap: int, iterations_to_finish: int
) -> dict[str, Any]:
    """The loop with the step not jitted at all, stopped after ``cap`` iterations and extrapolated.

    Estimate for the whole solve: the first iteration (it compiles every primitive once) plus
    ``iterations_to_finish - 1`` times the median of the later measured iterations (the first
    iteration's time alone when only one was measured).
    """
    carry = jax.block_until_ready(init(problem.x0))
    with count_compilations() as log:
        t0 = time.perf_counter()
        out = drive(carry, step, problem, config, max_steps=cap, log=log)
        seconds = time.perf_counter() - t0
    per_iteration = _iteration_seconds(t0, out.pop("ends"))
    measured = out["n_iter"]
    finished = out["converged"] or measured >= config.maxiter or measured < cap
    later = statistics.median(per_iteration[1:]) if len(per_iteration) > 1 else per_iteration[0]
    estimate = per_iteration[0] + (iterations_to_finish - 1) * later
    return {
        **out,
        "seconds": seconds if finished else estimate,
        "samples": [seconds],
        "measured_seconds": seconds,
        "measured_iterations": measured,
        "iteration_seconds": per_iteration,
        "n_compilations": log.n_compilations,
        "compile_s": log.compile_s,
        "extrapolated": not finished,
        "extrapolation": None
        if finished
        else f"{measured} iterations measured ({seconds:.3g} s); the first iteration plus "
        f"{iterations_to_finish - 1} x the median of the later ones (the correct loop's "
        f"{iterations_to_finish} iterations)",
    }


def unblocked_steps(init: Any, step: Step, problem: Problem, count: int, repeats: int) -> dict[str, Any]:
    """``count`` jitted steps with no host sync, the timer read before and after blocking, per run.

    Each sample is one run: the clock read when the last step has been dispatched (the
    pitfall) and again once its result is ready (the correct figure of the same loop). After
    :func:`jit_anew` ran the same ``step``, JAX's caches already hold its executable.
    """
    jinit, jstep = jax.jit(init), jax.jit(step)

    def launch() -> tuple[Any, ...]:
        params, state, n_fev = jinit(problem.x0)
        out: tuple[Any, ...] = ()
        for _ in range(count):
            params, state, n_fev, *out = jstep(params, state, n_fev, problem.data)
        return (params, state, n_fev, *out)

    jax.block_until_ready(launch())  # any compilation happens here, outside the timed runs
    unblocked, blocked = [], []
    with assert_no_compilations("the unblocked step loop") as log:
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = launch()
            t1 = time.perf_counter()
            jax.block_until_ready(out)
            t2 = time.perf_counter()
            unblocked.append(t1 - t0)
            blocked.append(t2 - t0)
    n_fev = int(jax.device_get(out[2]))
    return {"unblocked": unblocked, "blocked": blocked, "n_iter": count, "n_fev": n_fev, "log": log}
