"""SciPy's L-BFGS-B driven by JAX three wrong ways: objective not jitted, value and gradient as two
calls, float32. The options are the ``scipy`` solver's (:func:`~.scipy_lbfgsb.scipy_options`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from lbfgs_impl.measure.timing import count_compilations, timed_run
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig
from lbfgs_impl.solvers.base import stop_status
from lbfgs_impl.solvers.scipy_lbfgsb import scipy_options

Minimize = Callable[[], tuple[scipy.optimize.OptimizeResult, int]]


def _as_float32(tree: Any) -> Any:
    def cast(leaf: Any) -> Any:
        is_float = jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating)
        return jnp.asarray(leaf, jnp.float32) if is_float else leaf

    return jax.tree.map(cast, tree)


def _combined(value_and_grad: Any, data: Any) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(x, data)
        return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)

    return fun


def _minimizer(problem: Problem, config: SolverConfig, kind: str) -> Minimize:
    """A solve of ``problem`` by L-BFGS-B with the objective wired as ``kind``; compiled here."""
    p, x0 = problem, np.asarray(problem.x0, dtype=np.float64)
    if kind == "not_jitted":
        fun, jac = _combined(jax.value_and_grad(p.objective), p.data), True
    elif kind == "two_calls":
        value = jax.jit(p.objective).lower(p.x0, p.data).compile()
        grad = jax.jit(jax.grad(p.objective)).lower(p.x0, p.data).compile()

        def fun(x: np.ndarray) -> float:
            return float(np.asarray(value(x, p.data)))

        def jac(x: np.ndarray) -> np.ndarray:
            return np.asarray(grad(x, p.data), dtype=np.float64)

    elif kind == "float32":
        data32 = _as_float32(p.data)
        x32 = jnp.asarray(p.x0, jnp.float32)
        compiled = jax.jit(jax.value_and_grad(p.objective)).lower(x32, data32).compile()
        inner = _combined(compiled, data32)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            return inner(x.astype(np.float32))

        jac = True
    else:
        raise ValueError(f"unknown SciPy variant {kind!r}")
    calls = 0

    def counted(x: np.ndarray) -> Any:
        nonlocal calls
        calls += 1
        return fun(x)

    def minimize() -> tuple[scipy.optimize.OptimizeResult, int]:
        nonlocal calls
        calls = 0
        res = scipy.optimize.minimize(counted, x0, jac=jac, method="L-BFGS-B", options=scipy_options(config))
        return res, calls

    return minimize


KINDS = ("two_calls", "float32")  # timed round-robin with the reference; "not_jitted" is capped


def _outcome(
    res: Any, calls: int, config: SolverConfig, check: Callable[[np.ndarray], Any]
) -> dict[str, Any]:
    """Iterations, evaluations and convergence judged on the float64 gradient at the final point."""
    value, grad = check(np.asarray(res.x, dtype=np.float64))
    value, gnorm = float(np.asarray(value)), float(np.max(np.abs(np.asarray(grad))))
    converged, status = stop_status(value, gnorm, int(res.nit), config)
    if not converged and np.isfinite(value) and res.nit < config.maxiter:
        status = f"not converged in float64 (||g||_inf {gnorm:.3g}); scipy stopped: {res.message}"
    return {"n_iter": int(res.nit), "n_fev": calls, "converged": converged, "status": status}


def measure_scipy(
    problem: Problem, config: SolverConfig, reference: Any, repeats: int, check: Callable[[np.ndarray], Any]
) -> tuple[list[float], Any, dict[str, dict[str, Any]]]:
    """The correct solve (``reference``, a compiled ``scipy`` solve) and the :data:`KINDS`, round-robin.

    Each is run once untimed, then ``repeats`` rounds time each once, so drift hits them
    alike. Returns the reference's samples and last raw result, and per variant its row
    fields. ``check(x)`` gives the float64 value and gradient at the final point (not timed).
    ``n_fev`` counts the calls SciPy made to the objective (with value and gradient as two
    functions, to the value; it asks for the gradient at the same points).
    """
    minimizers = {kind: _minimizer(problem, config, kind) for kind in KINDS}
    reference.run()
    for minimize in minimizers.values():
        minimize()
    ref_samples: list[float] = []
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    compilations = dict.fromkeys(KINDS, 0)
    last: dict[str, Any] = {}
    for _ in range(repeats):
        elapsed, raw = timed_run(reference, "the steady-state run of scipy")
        ref_samples.append(elapsed)
        for kind, minimize in minimizers.items():
            with count_compilations() as log:
                t0 = time.perf_counter()
                last[kind] = minimize()
                samples[kind].append(time.perf_counter() - t0)
            compilations[kind] += log.n_compilations
    variants = {
        kind: {
            "seconds": statistics.median(samples[kind]),
            "samples": samples[kind],
            "n_compilations": compilations[kind],
            **_outcome(*last[kind], config, check),
        }
        for kind in KINDS
    }
    return ref_samples, raw, variants


def not_jitted(
    problem: Problem, config: SolverConfig, cap: int, evaluations_to_finish: int, check: Callable[..., Any]
) -> dict[str, Any]:
    """L-BFGS-B on the un-jitted objective, one run of at most ``cap`` iterations, extrapolated.

    A 2-iteration run first (untimed) compiles every primitive the objective uses. Where the
    timed run stopped on the cap, the whole solve's time is estimated as its seconds per
    evaluation times ``evaluations_to_finish`` (the correct solve's evaluations): every
    evaluation does the same operations.
    """
    _minimizer(problem, config._replace(maxiter=2), "not_jitted")()
    capped = config._replace(maxiter=min(cap, config.maxiter))
    minimize = _minimizer(problem, capped, "not_jitted")
    with count_compilations() as log:
        t0 = time.perf_counter()
        res, calls = minimize()
        seconds = time.perf_counter() - t0
    outcome = _outcome(res, calls, config, check)
    capped_below = capped.maxiter < config.maxiter
    stopped_on_cap = capped_below and not outcome["converged"] and outcome["n_iter"] >= capped.maxiter
    estimate = seconds / calls * evaluations_to_finish
    return {
        "seconds": estimate if stopped_on_cap else seconds,
        "samples": [seconds],
        "measured_seconds": seconds,
        "measured_iterations": outcome["n_iter"],
        "measured_evaluations": calls,
        "n_compilations": log.n_compilations,
        **outcome,
        "extrapolated": stopped_on_cap,
        "extrapolation": f"{outcome['n_iter']} iterations ({calls} evaluations) measured in {seconds:.3g} s; "
        f"seconds per evaluation x the correct solve's {evaluations_to_finish} evaluations"
        if stopped_on_cap
        else None,
    }
