"""Break-even of ``lbfgs-bench report``: first calls in fresh processes, JAX's persistent cache cold and warm.

Every variant, SciPy included (its ``value_and_grad`` is jitted too, so a warm
cache speeds its first call as well), is started ``samples`` times in a fresh
interpreter with the cache off (cold) and ``samples`` times after one process
filled a temporary cache (warm). Each child reports its cache hits, backend
compilations and the solve's outcome; :func:`check_children` refuses a run whose
cold children hit the cache, whose warm children did not, or whose solves did
not take the steady solve's path. Break-even uses the medians; the spread
(min-max) is kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.commands.report.plans import sized_for
from lbfgs_impl.measure.timing import break_even_solves, measure_steady, prepare_compiled
from lbfgs_impl.solvers import get_solver

JAX_SOLVERS = ("optax_loop", "optax_while")

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
        raw = prepared.run()
        t2 = time.perf_counter()
    result = prepared.result(raw)  # untimed
print(json.dumps({"first_call_s": t2 - t1, "with_import_s": t2 - t0, "backend_compiles": log.n_compilations,
                  "backend_compile_s": log.compile_s,
                  "cache_hits": events.count("/jax/compilation_cache/cache_hits"),
                  "n_iter": result.n_iter, "converged": result.converged, "value": result.value}))
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


def check_children(solver: str, cold: Sequence[dict], warm: Sequence[dict], steady: dict[str, Any]) -> None:
    """Raise ``RuntimeError`` unless the children did what the figures say (see the module docstring)."""
    problems = []
    if any(c["cache_hits"] for c in cold):
        problems.append("a cold child hit the persistent cache")
    if any(c["backend_compiles"] < 1 for c in cold):
        problems.append("a cold child compiled nothing")
    if any(w["cache_hits"] < 1 for w in warm):
        problems.append("a warm child was not served by the persistent cache")
    for c in (*cold, *warm):
        if c["n_iter"] != steady["n_iter"] or c["converged"] != steady["converged"]:
            problems.append(
                f"a child took {c['n_iter']} iterations (converged: {c['converged']}), the steady solve "
                f"{steady['n_iter']} (converged: {steady['converged']})"
            )
            break
    if problems:
        raise RuntimeError(f"break-even children of {solver}: " + "; ".join(problems))


def _steady(case: BenchCase, solver: str, scaling_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The steady solve at the same (problem, n, maxiter): from the scaling stage, or measured here."""
    key = (case.problem, case.n, solver, case.maxiter)
    for r in scaling_rows:
        if (r["problem"], r["n"], r["solver"], r.get("maxiter")) == key:
            return {"steady_s": r["steady_s"], "n_iter": r["n_iter"], "converged": r["converged"]}
    prepared = prepare_compiled(get_solver(solver), case.make_problem(), case.config())
    stats, results = measure_steady({solver: prepared}, repeats=3)
    r = results[solver]
    return {"steady_s": stats[solver].median_s, "n_iter": r.n_iter, "converged": r.converged}


def _spread(children: Sequence[dict[str, Any]]) -> dict[str, float]:
    times = [c["first_call_s"] for c in children]
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def _first_calls(case: BenchCase, solver: str, cache: str, samples: int, cpu: int | None) -> dict[str, Any]:
    def call(cache_dir: str | None) -> dict[str, Any]:
        return fresh_first_call(solver, case.problem, case.n, case.maxiter, cache_dir, cpu)

    cold = [call(None) for _ in range(samples)]
    call(cache)  # fills the cache
    warm = [call(cache) for _ in range(samples)]
    return {"cold": cold, "warm": warm}


def break_even(
    cases: Sequence[BenchCase],
    scaling_rows: Sequence[dict[str, Any]],
    cpu: int | None,
    progress: Callable[[str], None],
    cache_root: str | None = None,
    samples: int = 3,
    solvers: Sequence[str] = JAX_SOLVERS,
) -> list[dict[str, Any]]:
    """Cold vs warm first calls of SciPy and each JAX variant, and the break-even against SciPy (same cache).

    The cache lives in a temporary directory per case, removed afterwards whatever happens.
    Dense BFGS solvers run up to :data:`~lbfgs_impl.commands.report.plans.DENSE_MAX_N` only.
    """
    rows = []
    for case in cases:
        progress(f"break-even: {case.id}, {samples} fresh processes per cache state and solver")
        with tempfile.TemporaryDirectory(prefix="lbfgs-bench-jax-cache-", dir=cache_root) as cache:
            calls, steady = {}, {}
            active = sized_for(solvers, case.n)
            for solver in ("scipy", *active):
                calls[solver] = _first_calls(case, solver, cache, samples, cpu)
                steady[solver] = _steady(case, solver, scaling_rows)
                check_children(solver, calls[solver]["cold"], calls[solver]["warm"], steady[solver])
            ref = steady["scipy"]
            for solver in active:
                s = steady[solver]
                row: dict[str, Any] = {
                    "problem": case.problem, "n": case.n, "maxiter": case.maxiter, "solver": solver,
                    "samples": samples, "steady_s": s["steady_s"], "scipy_steady_s": ref["steady_s"],
                    "converged": s["converged"] and ref["converged"],
                }  # fmt: skip
                for label in ("cold", "warm"):
                    mine, scipy = _spread(calls[solver][label]), _spread(calls["scipy"][label])
                    row[f"{label}_first_call_s"] = mine["median"]
                    row[f"{label}_spread_s"] = [mine["min"], mine["max"]]
                    row[f"scipy_{label}_first_call_s"] = scipy["median"]
                    row[f"scipy_{label}_spread_s"] = [scipy["min"], scipy["max"]]
                    row[f"{label}_cache_hits"] = [c["cache_hits"] for c in calls[solver][label]]
                    row[f"{label}_backend_compiles"] = [c["backend_compiles"] for c in calls[solver][label]]
                    row[f"break_even_{label}"] = (
                        break_even_solves(mine["median"], s["steady_s"], scipy["median"], ref["steady_s"])
                        if row["converged"]
                        else None
                    )
                row["note"] = "" if row["converged"] else "not computed: a solve did not converge"
                rows.append(row)
    return rows
