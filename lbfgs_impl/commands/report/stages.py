"""The measurements behind ``lbfgs-bench report``: one function per stage, each returning plain data.

Every stage uses the measurement core (:mod:`lbfgs_impl.measure`): precompiled
steady runs with zero compilations checked, first calls with cleared caches or
in fresh processes. Stages never raise for a solver's failure; the report
driver records a stage that raises as failed and goes on.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.measure.timing import (
    break_even_solves,
    measure_first_call,
    measure_steady,
    prepare_compiled,
    timed_run,
)
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SEED_SOLVERS, SolverConfig, get_solver, while_loop_solve

JAX_SOLVERS = ("optax_loop", "optax_while")


# --------------------------------------------------------------------------- 1. scaling


def scaling(
    cases: Sequence[BenchCase], repeats: int, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    """First call (caches cleared) and steady time of every seed solver at every size."""
    rows = []
    for case in cases:
        progress(f"scaling: {case.id}{' (fixed budget)' if case.fixed_budget else ''}")
        problem, config = case.make_problem(), case.config()
        prepared = {s: prepare_compiled(get_solver(s), problem, config) for s in SEED_SOLVERS}
        stats, results = measure_steady(prepared, repeats=repeats)
        for s in SEED_SOLVERS:
            samples, _ = measure_first_call(get_solver(s), problem, config, repeats=1)
            r = results[s]
            rows.append(
                {
                    "problem": case.problem,
                    "n": case.n,
                    "solver": s,
                    "fixed_budget": case.fixed_budget,
                    "maxiter": case.maxiter,
                    "first_call_s": samples[0].total_s,
                    "compile_s": samples[0].compile_s,
                    "steady_s": stats[s].median_s,
                    "n_iter": r.n_iter,
                    "n_fev": r.n_fev,
                    "converged": r.converged,
                    "seconds_per_iteration": stats[s].median_s / r.n_iter if r.n_iter else None,
                }
            )
    return rows


def speedups(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per problem and solver, (n, scipy steady / solver steady) in order of n."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    ref = {(r["problem"], r["n"]): r["steady_s"] for r in rows if r["solver"] == "scipy"}
    for r in rows:
        key = (r["problem"], r["n"])
        if key in ref and r["solver"] != "scipy":
            out.setdefault(r["problem"], {}).setdefault(r["solver"], []).append(
                (r["n"], ref[key] / r["steady_s"])
            )
    for per_solver in out.values():
        for pts in per_solver.values():
            pts.sort()
    return out


def crossover_n(points: Sequence[tuple[int, float]]) -> float | None:
    """The n where a speedup curve first falls through 1, interpolated in log n; ``None`` if it never does.

    ``math.inf`` is never returned: a curve above 1 everywhere gives ``None``
    (the caller says "faster at every measured n").
    """
    for (n0, s0), (n1, s1) in itertools.pairwise(points):
        if (s0 - 1.0) * (s1 - 1.0) <= 0 and s0 != s1:
            # linear in (log n, log speedup)
            a, b = math.log(n0), math.log(n1)
            u, v = math.log(s0), math.log(s1)
            return math.exp(a + (0.0 - u) * (b - a) / (v - u))
    return None


# --------------------------------------------------------------------------- 2. the floor


def _evaluation_loop(objective: Callable[..., Any], count: int) -> Callable[..., Any]:
    def run(x, data):
        def body(i, acc):
            value, grad = jax.value_and_grad(objective)(x + acc * 1e-300, data)
            return acc + value + grad[0]

        return jax.lax.fori_loop(0, count, body, jnp.zeros((), x.dtype))

    return run


def evaluation_floor(
    problem_name: str, n: int, count: int | None = None, repeats: int = 3, target_s: float = 0.2
) -> dict[str, Any]:
    """Seconds of one objective+gradient evaluation inside XLA: a jitted loop of ``count`` evaluations.

    Each evaluation depends on the previous one (a vanishing shift of x), so XLA
    can neither hoist it out of the loop nor drop it; no dispatch is counted.
    Without ``count``, a 10-evaluation probe picks the count that fills about
    ``target_s`` (10 to 2000 evaluations), so large n stay affordable.
    """
    problem = make_problem(problem_name, n)
    if count is None:
        probe = jax.jit(_evaluation_loop(problem.objective, 10)).lower(problem.x0, problem.data).compile()
        probe(problem.x0, problem.data).block_until_ready()
        t0 = time.perf_counter()
        probe(problem.x0, problem.data).block_until_ready()
        per = (time.perf_counter() - t0) / 10
        count = int(min(2000, max(10, target_s / max(per, 1e-9))))
    run = jax.jit(_evaluation_loop(problem.objective, count)).lower(problem.x0, problem.data).compile()
    run(problem.x0, problem.data).block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(problem.x0, problem.data).block_until_ready()
        times.append(time.perf_counter() - t0)
    return {
        "problem": problem_name,
        "n": n,
        "evaluations_timed": count,
        "seconds_per_evaluation": statistics.median(times) / count,
    }


def overhead_ratio(seconds_per_iteration: float, seconds_per_evaluation: float) -> float:
    """How many evaluations' worth of time one iteration costs."""
    return seconds_per_iteration / seconds_per_evaluation


# --------------------------------------------------------------------------- 3. break-even, cache


_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import jax
import lbfgs_impl
from lbfgs_impl.measure.timing import count_compilations, pinned
events = []
jax.monitoring.register_event_listener(lambda event, **kwargs: events.append(event))
spec = json.loads(sys.argv[1])
with pinned(spec["cpu"]):
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver
    problem = make_problem(spec["problem"], spec["n"])
    with count_compilations() as log:
        t1 = time.perf_counter()
        prepared = get_solver(spec["solver"]).prepare(problem, SolverConfig(maxiter=spec["maxiter"]))
        prepared.compile()
        prepared.run()
        t2 = time.perf_counter()
print(json.dumps({"first_call_s": t2 - t1, "with_import_s": t2 - t0, "backend_compiles": log.n_compilations,
                  "backend_compile_s": log.compile_s,
                  "cache_hits": events.count("/jax/compilation_cache/cache_hits")}))
"""


def fresh_first_call(
    solver: str, problem: str, n: int, maxiter: int, cache_dir: str | None, cpu: int | None
) -> dict[str, Any]:
    """One first call in a fresh interpreter, with JAX's persistent cache in ``cache_dir`` (or off)."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("JAX_") and "CACHE" in k]:
        del env[key]  # never read the user's own cache settings
    if cache_dir is None:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    else:
        env.update(
            JAX_ENABLE_COMPILATION_CACHE="true",
            JAX_COMPILATION_CACHE_DIR=cache_dir,
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
        )
    spec = {"solver": solver, "problem": problem, "n": n, "maxiter": maxiter, "cpu": cpu}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)], capture_output=True, text=True, env=env, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fresh first call of {solver} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def break_even(
    cases: Sequence[BenchCase],
    scaling_rows: Sequence[dict[str, Any]],
    cpu: int | None,
    progress: Callable[[str], None],
    cache_root: str | None = None,
) -> list[dict[str, Any]]:
    """Cold vs warm persistent-cache first calls in fresh processes, and the break-even against SciPy.

    The cache lives in a temporary directory removed afterwards, whatever happens.
    """
    steady = {(r["problem"], r["n"], r["solver"]): r for r in scaling_rows}
    rows = []
    for case in cases:
        progress(f"break-even: {case.id}, fresh processes, cache cold then warm")
        with tempfile.TemporaryDirectory(prefix="lbfgs-bench-jax-cache-", dir=cache_root) as cache:
            ref = fresh_first_call("scipy", case.problem, case.n, case.maxiter, None, cpu)
            for solver in JAX_SOLVERS:
                cold = fresh_first_call(solver, case.problem, case.n, case.maxiter, None, cpu)
                fresh_first_call(solver, case.problem, case.n, case.maxiter, cache, cpu)  # fills the cache
                warm = fresh_first_call(solver, case.problem, case.n, case.maxiter, cache, cpu)
                s = steady.get((case.problem, case.n, solver))
                r = steady.get((case.problem, case.n, "scipy"))
                row = {
                    "problem": case.problem,
                    "n": case.n,
                    "solver": solver,
                    "scipy_first_call_s": ref["first_call_s"],
                    "cold_first_call_s": cold["first_call_s"],
                    "warm_first_call_s": warm["first_call_s"],
                    "cold_cache_hits": cold["cache_hits"],
                    "warm_cache_hits": warm["cache_hits"],
                }
                comparable = s and r and s["converged"] and r["converged"]
                for label in ("cold", "warm"):
                    row[f"break_even_{label}"] = (
                        break_even_solves(
                            row[f"{label}_first_call_s"], s["steady_s"], ref["first_call_s"], r["steady_s"]
                        )
                        if comparable
                        else None
                    )
                row["note"] = "" if comparable else "not computed: a solve did not converge (fixed budget)"
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- 4. batched solves


def batched(
    sizes: Sequence[int], n: int, repeats: int, progress: Callable[[str], None], seed: int = 0
) -> list[dict[str, Any]]:
    """``optax_while`` under ``jax.vmap`` over B starting points vs B sequential solves.

    Starting points: the seed case's x0 plus seeded uniform noise in [-0.5, 0.5].
    A vmapped while_loop runs until its last member stops; each member's own
    iteration count and convergence are reported.
    """
    problem = make_problem("rosenbrock", n)
    config = SolverConfig()
    solve_one = functools.partial(
        while_loop_solve,
        objective=problem.objective,
        gtol=config.gtol,
        maxiter=config.maxiter,
        memory_size=config.memory_size,
    )
    rng = np.random.default_rng(seed)
    scipy_prepared = get_solver("scipy").prepare(problem, config)
    scipy_prepared.compile()
    one = jax.jit(solve_one).lower(problem.x0, problem.data).compile()
    rows = []
    for b in sizes:
        progress(f"batched: B={b}")
        starts = jnp.asarray(np.asarray(problem.x0) + rng.uniform(-0.5, 0.5, size=(b, n)))
        vmapped = jax.jit(jax.vmap(solve_one, in_axes=(0, None))).lower(starts, problem.data).compile()
        jax.block_until_ready(vmapped(starts, problem.data))  # warm-ups, untimed
        jax.block_until_ready(one(starts[0], problem.data))
        _scipy_from(scipy_prepared, starts[0])
        t_vmap = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = jax.block_until_ready(vmapped(starts, problem.data))
            t_vmap.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(b):
            jax.block_until_ready(one(starts[i], problem.data))
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(b):
            _scipy_from(scipy_prepared, starts[i])
        t_scipy = time.perf_counter() - t0
        gnorm = np.asarray(out.grad_inf_norm)
        iters = np.asarray(out.n_iter)
        rows.append(
            {
                "B": b,
                "n": n,
                "vmap_s": statistics.median(t_vmap),
                "sequential_jit_s": t_seq,
                "sequential_scipy_s": t_scipy,
                "converged_members": int(np.sum(gnorm <= config.gtol)),
                "member_iterations_min": int(iters.min()),
                "member_iterations_max": int(iters.max()),
            }
        )
    return rows


def _scipy_from(prepared: Any, x0: jax.Array) -> Any:
    problem = prepared.problem
    prepared.problem = dataclasses.replace(problem, x0=x0)
    try:
        return prepared.run()
    finally:
        prepared.problem = problem


# --------------------------------------------------------------------------- 5. convergence


def convergence(progress: Callable[[str], None]) -> dict[str, dict[str, list[float]]]:
    """Loss and gradient inf-norm per iteration on the seed case, with the time each was reached.

    SciPy and the Python-loop Optax are observed from the host as they run. The
    compiled while_loop cannot be observed from inside without changing it, so
    its history is recomputed by the same loop and its times are the steady
    solve's duration spread evenly over its iterations (stated in the report).
    """
    problem, config = make_problem("rosenbrock", 100), SolverConfig()
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    traces: dict[str, dict[str, list[float]]] = {}

    progress("convergence: scipy")
    import scipy.optimize

    value_and_grad(problem.x0, problem.data)  # compiled before the clock starts
    last: dict[str, Any] = {}

    def fun(x):
        v, g = value_and_grad(x, problem.data)
        last.update(x=np.array(x), v=float(np.asarray(v)), g=np.asarray(g, dtype=np.float64))
        return last["v"], last["g"]

    def record(x):
        # The accepted iterate is the line search's last evaluation: reuse it, do not evaluate again.
        v, g = (last["v"], last["g"]) if np.array_equal(x, last.get("x")) else fun(x)
        trace["loss"].append(v)
        trace["grad"].append(float(np.max(np.abs(g))))
        trace["time_s"].append(time.perf_counter() - t_start)

    t_start, trace = time.perf_counter(), {"loss": [], "grad": [], "time_s": []}

    options = {"maxiter": config.maxiter, "maxcor": config.memory_size, "gtol": config.gtol, "ftol": 0.0}
    scipy.optimize.minimize(
        fun, np.asarray(problem.x0), jac=True, method="L-BFGS-B", options=options, callback=record
    )
    traces["scipy"] = trace

    progress("convergence: optax (host loop, and the while_loop's path)")
    loop = prepare_compiled(get_solver("optax_loop"), problem, config)
    params, state, n_fev = loop._init(problem.x0)
    trace = {"loss": [], "grad": [], "time_s": []}
    t_start = time.perf_counter()
    for _ in range(config.maxiter):
        params, state, n_fev, value, gnorm = loop._step(params, state, n_fev, problem.data)
        v, g = jax.device_get((value, gnorm))
        trace["loss"].append(float(v))
        trace["grad"].append(float(g))
        trace["time_s"].append(time.perf_counter() - t_start)
        if not (math.isfinite(v) and g > config.gtol):
            break
    traces["optax_loop"] = trace
    whole = prepare_compiled(get_solver("optax_while"), problem, config)
    whole.run()
    elapsed, raw = timed_run(whole)
    n_iter = int(raw.n_iter)
    per = elapsed / n_iter
    same = dict(trace)  # both Optax variants take the same path (tested): same losses, even times
    traces["optax_while"] = {
        "loss": same["loss"][:n_iter],
        "grad": same["grad"][:n_iter],
        "time_s": [per * (k + 1) for k in range(min(n_iter, len(same["loss"])))],
    }
    return traces


# --------------------------------------------------------------------------- helpers


def median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
