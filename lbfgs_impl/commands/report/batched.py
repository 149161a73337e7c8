"""Batched solves and convergence traces of ``lbfgs-bench report``."""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.measure.timing import assert_no_compilations, prepare_compiled, timed_run
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver, while_loop_solve
from lbfgs_impl.solvers.base import inf_norm


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median of ``repeats`` timings of ``fn()``; raises if JAX compiled anything while timed."""
    times, out = [], None
    for _ in range(repeats):
        with assert_no_compilations("a timed batch"):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), out


#: batched starting points: the seed case's x0 plus uniform noise in [-PERTURBATION, PERTURBATION]
PERTURBATION = 0.5


def batched(
    sizes: Sequence[int],
    n: int,
    repeats: int,
    progress: Callable[[str], None],
    seed: int = 0,
    peers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``optax_while`` under ``jax.vmap`` over B starting points vs B sequential solves (jit and SciPy).

    Starting points: the seed case's x0 plus seeded uniform noise in [-0.5, 0.5];
    the same B points for the three, each timed ``repeats`` times (median). A
    vmapped while_loop runs until its last member stops. Per member, the
    iterations and convergence of all three are kept, so a reader can check
    that they solved the same problems. The same start need not take the same
    iterations vmapped and alone: XLA compiles the batched loop into other
    kernels, whose last-bit rounding may differ and grow over hundreds of
    iterations (``same_iterations_vmap_vs_sequential`` counts the members that
    matched). ``peers``: see :func:`_batch_peer`.
    """
    problem = make_problem("rosenbrock", n)
    config = SolverConfig()
    solve_one = functools.partial(
        while_loop_solve, objective=problem.objective, gtol=config.gtol, maxiter=config.maxiter,
        memory_size=config.memory_size,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    scipy_prepared = prepare_compiled(get_solver("scipy"), problem, config)
    one = jax.jit(solve_one).lower(problem.x0, problem.data).compile()
    peer_fns, grad_norms = {p: _peer_solve(p, problem, config) for p in peers}, _grad_norms(problem.objective)
    rows = []
    for b in sizes:
        progress(f"batched: B={b}")
        starts = jnp.asarray(np.asarray(problem.x0) + rng.uniform(-PERTURBATION, PERTURBATION, size=(b, n)))
        vmapped = jax.jit(jax.vmap(solve_one, in_axes=(0, None))).lower(starts, problem.data).compile()
        timed, out, seq = _time_batch(vmapped, one, starts, problem.data, repeats)
        scipy_all = functools.partial(_scipy_all, scipy_prepared, list(starts))  # the rows, split untimed
        _scipy_from(scipy_prepared, starts[0])  # warm-up (one solve: the executable is shared), untimed
        t_scipy, sp = _median_time(scipy_all, repeats)
        scipy_results = [scipy_prepared.result(raw) for raw in sp]
        rows.append(
            {
                "B": b, "n": n, "repeats": repeats, "perturbation": PERTURBATION, **timed,
                "sequential_scipy_s": t_scipy,
                "converged_members": int(np.sum(np.asarray(out.grad_inf_norm) <= config.gtol)),
                "converged_sequential_jit": sum(float(o.grad_inf_norm) <= config.gtol for o in seq),
                "converged_scipy": sum(r.converged for r in scipy_results),
                "scipy_iterations": [r.n_iter for r in scipy_results],
                "peers": {
                    name: _batch_peer(peer, starts, problem.data, repeats, config.gtol, grad_norms)
                    for name, peer in peer_fns.items()
                },
            }
        )  # fmt: skip
    return rows


def _grad_norms(objective: Any) -> Any:
    """Jitted ``(X (B, n), data) -> ||grad f(X[i])||_inf`` for every member: the suite's convergence test."""
    return jax.jit(jax.vmap(lambda x, d: inf_norm(jax.grad(objective)(x, d)), in_axes=(0, None)))


def _peer_solve(name: str, problem: Any, config: SolverConfig) -> Any:
    """A peer's whole solve as one function ``(x0, data) -> JittedOutput`` with its single-start
    executable compiled once (a pair), or why there is none (a string)."""
    solver = get_solver(name)
    reason = solver.unavailable_reason()
    if reason:
        return f"not installed: {reason}"
    build = getattr(solver, "build", None)
    if build is None:
        return "its solve is not one jittable function"
    fn = build(problem.objective, config)
    try:
        return fn, jax.jit(fn).lower(problem.x0, problem.data).compile()
    except Exception as exc:
        return f"failed to compile: {type(exc).__name__}: {str(exc)[:200]}"


def _batch_peer(
    peer: Any, starts: jax.Array, data: Any, repeats: int, gtol: float, grad_norms: Any
) -> dict[str, Any]:
    """One peer on the batch: vmapped (one call) and B sequential jitted solves, ``repeats`` timings each.

    A peer whose solve is one jittable function (``JittedSolver.build``) is batched on the
    same points as optax_while: its vmap and sequential times, members converged, iterations.
    One that cannot be vmapped, or fails while batched, records why (``{"unsupported": reason}``).
    """
    if isinstance(peer, str):
        return {"unsupported": peer}
    fn, one = peer
    try:
        vmapped = jax.jit(jax.vmap(fn, in_axes=(0, None))).lower(starts, data).compile()
    except Exception as exc:  # the library's solve does not batch: say so, measure the rest
        return {"unsupported": f"jax.vmap failed: {type(exc).__name__}: {str(exc)[:200]}"}
    try:
        timed, out, seq = _time_batch(vmapped, one, starts, data, repeats)
        seq_x = jnp.stack([o.x for o in seq])
        return {
            **timed,
            "converged_members": int(np.sum(np.asarray(grad_norms(out.x, data)) <= gtol)),
            "converged_sequential_jit": int(np.sum(np.asarray(grad_norms(seq_x, data)) <= gtol)),
        }
    except Exception as exc:  # a peer that fails here is recorded; optax_while's figures stand
        return {"unsupported": f"failed while batched: {type(exc).__name__}: {str(exc)[:200]}"}


def _time_batch(
    vmapped: Any, one: Any, starts: jax.Array, data: Any, repeats: int
) -> tuple[dict[str, Any], Any, list[Any]]:
    """Time one vmapped call and B sequential calls of ``one`` on the same ``starts`` (a warm-up each:
    the vmapped call, one single solve; then ``repeats`` timings, median). Returns the times and
    member iterations, and both outputs."""
    vmap_all = functools.partial(_vmap_all, vmapped, starts, data)
    jit_all = functools.partial(_jit_all, one, list(starts), data)  # splitting the rows compiles: untimed
    vmap_all(), jax.block_until_ready(one(starts[0], data))  # warm-ups, untimed
    t_vmap, out = _median_time(vmap_all, repeats)
    t_seq, seq = _median_time(jit_all, repeats)
    vmap_iters = [int(k) for k in np.asarray(out.n_iter)]
    same = sum(a == int(c.n_iter) for a, c in zip(vmap_iters, seq, strict=True))
    timed = {
        "vmap_s": t_vmap,
        "sequential_jit_s": t_seq,
        "member_iterations_min": min(vmap_iters),
        "member_iterations_max": max(vmap_iters),
        "same_iterations_vmap_vs_sequential": same,
    }
    return timed, out, seq


def _vmap_all(vmapped: Any, starts: jax.Array, data: Any) -> Any:
    return jax.block_until_ready(vmapped(starts, data))


def _jit_all(one: Any, starts: Sequence[jax.Array], data: Any) -> list[Any]:
    return [jax.block_until_ready(one(x0, data)) for x0 in starts]


def _scipy_all(prepared: Any, starts: Sequence[jax.Array]) -> list[Any]:
    return [_scipy_from(prepared, x0) for x0 in starts]


def _scipy_from(prepared: Any, x0: jax.Array) -> Any:
    problem = prepared.problem
    prepared.problem = dataclasses.replace(problem, x0=x0)
    try:
        return prepared.run()
    finally:
        prepared.problem = problem


#: the ``reconstructed_from`` field of a convergence trace that is not the solver's own observed path
RECONSTRUCTED_FROM = "optax_loop"


def reconstructed_from(solver: str, trace: dict[str, Any]) -> str | None:
    """Whose observed path a convergence trace is, where not the solver's own (``None``): the trace's
    ``reconstructed_from``; optax_while's in a report written before the field existed, the Python loop's."""
    return trace.get("reconstructed_from") or (RECONSTRUCTED_FROM if solver == "optax_while" else None)


def convergence(progress: Callable[[str], None], n: int = 100) -> dict[str, dict[str, Any]]:
    """Loss and gradient inf-norm per iteration on the seed case, with the time each was reached.

    SciPy and the Python-loop Optax are observed from the host through their
    solvers' own ``run(observe=...)`` (SciPy with every option the solver uses,
    ``maxfun`` included); each trace is checked against that solve's result
    (iterations, final loss). The compiled while_loop cannot be observed from
    inside, so its path is the Python loop's, checked against its own solve
    (iterations, final loss), and its times spread its measured solve evenly: its trace
    says so in ``reconstructed_from`` (the solver whose path it is) and ``times``.
    """
    problem, config = make_problem("rosenbrock", n), SolverConfig()
    traces: dict[str, dict[str, Any]] = {}
    results = {}
    for solver in ("scipy", "optax_loop"):
        progress(f"convergence: {solver}")
        prepared = prepare_compiled(get_solver(solver), problem, config)
        prepared.run()  # warm
        trace: dict[str, list[float]] = {"loss": [], "grad": [], "time_s": []}
        t_start = time.perf_counter()

        def observe(value: float, gnorm: float, trace: dict = trace, t_start: float = t_start) -> None:
            trace["loss"].append(value)
            trace["grad"].append(gnorm)
            trace["time_s"].append(time.perf_counter() - t_start)

        results[solver] = result = prepared.result(prepared.run(observe=observe))
        check_trace(solver, trace, result.n_iter, result.value)
        traces[solver] = trace
    whole = prepare_compiled(get_solver("optax_while"), problem, config)
    whole.run()
    elapsed, raw = timed_run(whole)
    result = whole.result(raw)
    same = traces["optax_loop"]
    check_trace("optax_while (the Python loop's path)", same, result.n_iter, result.value)
    per = elapsed / result.n_iter
    traces["optax_while"] = {
        "loss": list(same["loss"]),
        "grad": list(same["grad"]),
        "time_s": [per * (k + 1) for k in range(result.n_iter)],
        "reconstructed_from": RECONSTRUCTED_FROM,
        "times": "its measured solve spread evenly over its iterations",
    }
    return traces


def check_trace(solver: str, trace: dict[str, list[float]], n_iter: int, value: float) -> None:
    """Raise ``RuntimeError`` unless the trace has the solve's iterations and ends at its final loss."""
    if len(trace["loss"]) != n_iter or not np.isclose(trace["loss"][-1], value, rtol=1e-12, atol=0.0):
        last = trace["loss"][-1] if trace["loss"] else None
        raise RuntimeError(
            f"convergence trace of {solver}: {len(trace['loss'])} iterations ending at {last}, "
            f"the solve {n_iter} iterations ending at {value}"
        )
