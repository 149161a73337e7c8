"""Break-even of ``lbfgs-bench report``: first calls in fresh processes, JAX's persistent cache cold and warm.

Every variant, SciPy included (its ``value_and_grad`` is jitted too, so a warm
cache speeds its first call as well), is started ``samples`` times in a fresh
process with the cache off (cold) and ``samples`` times with a temporary cache
that the report's own process filled (warm, :func:`fill_cache`). Fresh processes
are forked from a fork server that has imported JAX and the solvers' libraries
but started no JAX backend (:func:`_fork_server`; each child checks). Each child
reports its cache hits, backend compilations and the solve's outcome;
:func:`check_children` refuses a run whose cold children hit the cache, whose
warm children did not, or whose solves did not take the steady solve's path.
Break-even uses the medians; the spread (min-max) is kept.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.commands.report.plans import sized_for
from lbfgs_impl.measure.timing import (
    break_even_solves,
    clear_jax_caches,
    measure_steady,
    persistent_cache_in,
    prepare_compiled,
)
from lbfgs_impl.solvers import SOLVERS, SolverConfig, get_solver

JAX_SOLVERS = ("optax_loop", "optax_while")

#: what the fork server imports once, before any JAX backend exists (with every solver's own
#: library, :func:`fork_server_preload`); a library that is not installed is skipped by the server
FORK_SERVER_BASE = (
    "jax", "jax.scipy.optimize", "numpy", "scipy.optimize", "optax",
    "lbfgs_impl.problems", "lbfgs_impl.solvers", "lbfgs_impl.measure.timing",
)  # fmt: skip


def fork_server_preload() -> list[str]:
    """:data:`FORK_SERVER_BASE` and each solver's optional package (its ``package``), in that order."""
    packages = [getattr(solver, "package", "") for solver in SOLVERS.values()]
    return list(dict.fromkeys([*FORK_SERVER_BASE, *filter(None, packages)]))


CHILD_TIMEOUT_S = 900.0
CHILD_EXIT_GRACE_S = 30.0  # after its answer (or a timeout), then the child is killed


def _fork_server() -> Any:
    """The ``forkserver`` multiprocessing context, its server preloading :func:`fork_server_preload`.

    Each child is forked from that server: a fresh process whose modules are imported (as a
    user's script has imported them before its first solve) and whose JAX has no backend, no
    trace, lowering or compilation cache and no thread pool yet. Forking saves the ~1.5-2 s of
    imports a new interpreter pays per child; the timed first call excludes imports for every
    variant (a peer's library, which its solver imports lazily, included). The server starts
    without the user's ``JAX_*CACHE*`` variables, so no child reads the user's cache settings.
    """
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(fork_server_preload())  # read when the server starts (once)
    saved = {k: os.environ.pop(k) for k in [k for k in os.environ if k.startswith("JAX_") and "CACHE" in k]}
    try:
        forkserver.ensure_running()  # inherits this environment, once
    finally:
        os.environ.update(saved)
    return ctx


def _first_call_in_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in the forked child: configure the persistent cache, pin, time one first call."""
    import jax

    try:  # private: nothing public resets the in-memory caches or says whether a backend exists
        from jax._src import compilation_cache, xla_bridge

        reset_cache, started = compilation_cache.reset_cache, xla_bridge.backends_are_initialized
    except (ImportError, AttributeError) as exc:  # the parent records this line as the variant's error
        raise RuntimeError(
            "missing: this JAX lacks jax._src.compilation_cache.reset_cache or "
            f"jax._src.xla_bridge.backends_are_initialized, so no first call can be made fresh ({exc})"
        ) from exc

    if started():
        raise RuntimeError("the fork server had started a JAX backend: its children are not fresh")
    cache_dir = spec["cache_dir"]
    jax.config.update("jax_enable_compilation_cache", cache_dir is not None)
    if cache_dir is not None:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    reset_cache()

    from lbfgs_impl.measure.timing import count_compilations, pinned
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver

    with pinned(spec["cpu"]):
        problem = make_problem(spec["problem"], spec["n"])
        with count_compilations() as log:
            t1 = time.perf_counter()
            prepared = get_solver(spec["solver"]).prepare(problem, SolverConfig(maxiter=spec["maxiter"]))
            prepared.compile()
            raw = prepared.run()
            t2 = time.perf_counter()
        # untimed; a peer's full result() would compile and run a second, counting solve in this child
        result = prepared.outcome(raw) if hasattr(prepared, "outcome") else prepared.result(raw)
    return {
        "first_call_s": t2 - t1, "backend_compiles": log.n_compilations, "backend_compile_s": log.compile_s,
        "cache_hits": log.cache_hits,  # in the timed span only
        "n_iter": result.n_iter, "converged": result.converged, "value": result.value,
    }  # fmt: skip


def _child_main(spec: dict[str, Any], conn: Any) -> None:
    try:
        conn.send(_first_call_in_child(spec))
    except BaseException as exc:  # the parent gets one line, never a hang
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def fresh_first_call(
    solver: str, problem: str, n: int, maxiter: int, cache_dir: str | None, cpu: int | None
) -> dict[str, Any]:
    """One first call in a fresh process forked from the fork server (:func:`_fork_server`),
    with JAX's persistent cache in ``cache_dir`` (or off). A child that has not answered in
    :data:`CHILD_TIMEOUT_S`, or whose caller is interrupted, gets :data:`CHILD_EXIT_GRACE_S` to
    exit and is then killed."""
    ctx = _fork_server()
    spec = dict(solver=solver, problem=problem, n=n, maxiter=maxiter, cpu=cpu, cache_dir=cache_dir)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(spec, send), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(CHILD_TIMEOUT_S):
            raise RuntimeError(f"fresh first call of {solver} failed: no answer in {CHILD_TIMEOUT_S:.0f} s")
        out = receive.recv()
    except EOFError:
        child.join()
        out = {"error": f"the child died (exit code {child.exitcode})"}
    finally:
        receive.close()
        if child.is_alive():
            child.join(timeout=CHILD_EXIT_GRACE_S)  # a child that answered exits on its own
        if child.is_alive():
            child.kill()
            child.join()
    if "error" in out:
        raise RuntimeError(f"fresh first call of {solver} failed: {out['error']}")
    return out


def check_children(solver: str, cold: Sequence[dict], warm: Sequence[dict], steady: dict[str, Any]) -> None:
    """Raise ``RuntimeError`` unless the children did what the figures say (see the module docstring)."""
    problems = []
    if any(c["cache_hits"] for c in cold):
        problems.append("a cold child hit the persistent cache")
    if any(c["backend_compiles"] < 1 for c in cold):
        problems.append("a cold child compiled nothing")
    # a load from the cache is reported as a compilation too: warm, every one must be a cache hit
    if any(w["cache_hits"] < 1 or w["cache_hits"] != w["backend_compiles"] for w in warm):
        problems.append("a warm child compiled what the persistent cache should have served")
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
    """The steady solve at the same (problem, n, maxiter): from scaling, or measured in this process."""
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
    fill_cache(case, solver, cache)
    warm = [call(cache) for _ in range(samples)]
    return {"cold": cold, "warm": warm}


def fill_cache(case: BenchCase, solver: str, cache: str) -> None:
    """Build, compile and run ``solver``'s solve of ``case`` here (what a child's timed span does),
    caches cleared, writing every executable into the persistent cache ``cache``: what the warm
    children load (:func:`check_children` checks that their timed span compiled nothing)."""
    problem = case.make_problem()  # its own small executables stay out of the cache
    clear_jax_caches()
    with persistent_cache_in(cache):
        prepared = get_solver(solver).prepare(problem, SolverConfig(maxiter=case.maxiter))
        prepared.compile()
        prepared.run()


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
