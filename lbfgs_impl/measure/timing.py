"""The measurement core: CPU pinning, compile counting, first call and steady state.

Rules enforced here (and reused by ``perf/`` and ``benchmarks/``):

* every timed call ends only when its result is ready (``PreparedSolve.run``
  blocks; ``block_until_ready`` for device arrays);
* **first call** = fresh caches: :func:`clear_jax_caches` plus the persistent
  compilation cache switched off, so each sample really traces and compiles;
  a sample that saw no backend compilation raises :class:`MeasurementError`;
* **steady state** = a precompiled solve (AOT ``lower().compile()``); the
  timed region is watched with :func:`count_compilations` and any compilation
  inside it raises :class:`CompilationInTimedRegion`.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax

from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import PreparedSolve, Result, Solver, SolverConfig

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
LOWER_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"


class MeasurementError(RuntimeError):
    """A measurement broke one of the rules above."""


class CompilationInTimedRegion(MeasurementError):
    """JAX compiled something inside a region that must be compile-free."""


# ------------------------------------------------------------------ pinning


def available_cpus() -> list[int]:
    """CPUs this process may run on."""
    return sorted(os.sched_getaffinity(0))


def _set_affinity_all_threads(cpus: set[int]) -> None:
    # sched_setaffinity(0) only moves the calling thread; XLA's worker threads
    # already exist once JAX is initialised, so move every thread we own.
    os.sched_setaffinity(0, cpus)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return
    for tid in tids:
        with contextlib.suppress(OSError):  # the thread may have exited meanwhile
            os.sched_setaffinity(tid, cpus)


def backend_state_missing() -> str | None:
    """Why :func:`jax_backend_initialized` cannot tell on this JAX (``"missing: ..."``), else None."""
    try:
        from jax._src.xla_bridge import backends_are_initialized  # noqa: F401
    except ImportError as exc:  # the module or the name is gone
        return f"missing: jax._src.xla_bridge.backends_are_initialized ({type(exc).__name__}: {exc})"
    return None  # private, like every way to ask without starting a backend


def jax_backend_initialized() -> bool:
    """Whether XLA's CPU client (and its thread pool) already exists; True where this JAX cannot
    tell (:func:`backend_state_missing`): pinning is then recorded late, the callgrind pool won't fork."""
    if backend_state_missing() is not None:
        return True
    from jax._src import xla_bridge

    return bool(xla_bridge.backends_are_initialized())


@contextlib.contextmanager
def pinned(cpu: int | None = -1) -> Iterator[dict[str, Any]]:
    """Pin the whole process (all threads) to one CPU for the ``with`` block.

    Pin *before* the first JAX computation: XLA sizes its CPU thread pool when
    its backend starts, and a pool made for every core but squeezed onto one
    runs slower than the same pool pinned from the start (as ``taskset -c 0``
    does). The yielded record says which happened.

    Args:
      cpu: the CPU to use; ``-1`` (default) means the first CPU this process is
        allowed on; ``None`` means do not pin.

    Yields:
      A dict recording what was done, for the results' metadata.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield {"pinned": False, "cpus": available_cpus() if hasattr(os, "sched_getaffinity") else None}
        return
    before = set(os.sched_getaffinity(0))
    target = min(before) if cpu == -1 else cpu
    if target not in before:
        raise ValueError(f"cannot pin to CPU {cpu}; this process may use CPUs {sorted(before)}")
    late = jax_backend_initialized()
    _set_affinity_all_threads({target})
    try:
        yield {
            "pinned": True,
            "cpus": [target],
            "method": "os.sched_setaffinity (all threads)",
            "after_jax_init": late,
            "after_jax_init_missing": backend_state_missing(),  # why "late" is a guess, if it is
            "cpus_before": sorted(before),
        }
    finally:
        _set_affinity_all_threads(before)


# ------------------------------------------------------------------ compile counting


@dataclass
class CompileLog:
    """What JAX reported through :mod:`jax.monitoring` while the log was open."""

    n_compilations: int = 0
    compile_s: float = 0.0
    trace_s: float = 0.0
    lower_s: float = 0.0
    #: executables loaded from JAX's persistent cache (a load also reports a backend compile)
    cache_hits: int = 0

    def record(self, event: str, duration: float) -> None:
        if event == BACKEND_COMPILE_EVENT:
            self.n_compilations += 1
            self.compile_s += duration
        elif event == TRACE_EVENT:
            self.trace_s += duration
        elif event == LOWER_EVENT:
            self.lower_s += duration


_open_logs: list[CompileLog] = []
_listener_installed = False


def _on_duration_event(event: str, duration: float, **kwargs: Any) -> None:
    for log in _open_logs:
        log.record(event, duration)


def _on_event(event: str, **kwargs: Any) -> None:
    if event == CACHE_HIT_EVENT:
        for log in _open_logs:
            log.cache_hits += 1


@contextlib.contextmanager
def count_compilations() -> Iterator[CompileLog]:
    """Count backend compilations (and their seconds) inside the ``with`` block."""
    global _listener_installed
    if not _listener_installed:
        jax.monitoring.register_event_duration_secs_listener(_on_duration_event)
        jax.monitoring.register_event_listener(_on_event)
        _listener_installed = True
    log = CompileLog()
    _open_logs.append(log)
    try:
        yield log
    finally:
        # by identity: a nested log with equal counts compares equal and would be removed instead
        _open_logs[:] = [other for other in _open_logs if other is not log]


@contextlib.contextmanager
def assert_no_compilations(what: str = "the timed region") -> Iterator[CompileLog]:
    """Like :func:`count_compilations`, raising if anything compiled."""
    with count_compilations() as log:
        yield log
    if log.n_compilations:
        raise CompilationInTimedRegion(
            f"{log.n_compilations} JAX compilation(s) ({log.compile_s:.3f} s) happened inside "
            f"{what}; steady-state timings must exclude compilation"
        )


@contextlib.contextmanager
def _compilation_cache_settings(settings: dict[str, Any]) -> Iterator[None]:
    """JAX's compilation-cache options set to ``settings`` for the block, the previous values after it.

    JAX decides once per process whether it uses the cache and keeps the cache it opened: after
    one compile with ``$JAX_COMPILATION_CACHE_DIR`` set, flipping the flag alone changed nothing
    (a "first call" then loaded its executable in 0.2 s instead of compiling it in 5 s).
    ``reset_cache`` makes JAX read the options again, on the way in and on the way out.
    """
    from jax.experimental.compilation_cache.compilation_cache import reset_cache

    before = {name: getattr(jax.config, name) for name in settings}
    for name, value in settings.items():
        jax.config.update(name, value)
    reset_cache()
    try:
        yield
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
        reset_cache()


def persistent_cache_disabled() -> contextlib.AbstractContextManager[None]:
    """Switch JAX's on-disk compilation cache off for the block (and back as it was after it)."""
    return _compilation_cache_settings({"jax_enable_compilation_cache": False})


def persistent_cache_in(directory: str) -> contextlib.AbstractContextManager[None]:
    """JAX's on-disk compilation cache in ``directory`` for the block, every executable written
    (no minimum compile time or size); the previous settings come back after it."""
    return _compilation_cache_settings(
        {
            "jax_enable_compilation_cache": True,
            "jax_compilation_cache_dir": directory,
            "jax_persistent_cache_min_compile_time_secs": 0.0,
            "jax_persistent_cache_min_entry_size_bytes": -1,
        }
    )


def clear_jax_caches() -> None:
    """Drop every in-memory trace/compile cache so the next call starts cold."""
    jax.clear_caches()


# ------------------------------------------------------------------ first call


class FirstCallSample(NamedTuple):
    """One cold solve: wall seconds from nothing to a finished result.

    ``trace_lower_s`` and ``compile_s`` are the AOT stages
    (``jit(...).lower()`` and ``.compile()``); ``run_s`` is the solve itself;
    ``total_s`` also covers building the solver. ``n_compilations`` and
    ``backend_compile_s`` come from :mod:`jax.monitoring`.
    """

    total_s: float
    trace_lower_s: float
    compile_s: float
    run_s: float
    n_compilations: int
    backend_compile_s: float


def cold_solve(solver: Solver, problem: Problem, config: SolverConfig) -> tuple[FirstCallSample, Result]:
    """Time one solve from a cold start; call :func:`clear_jax_caches` first.

    Raises:
      MeasurementError: nothing was compiled, so the caches were not cold.
    """
    sample, result, _ = cold_start(solver, problem, config)
    return sample, result


def cold_start(
    solver: Solver, problem: Problem, config: SolverConfig
) -> tuple[FirstCallSample, Result, PreparedSolve]:
    """:func:`cold_solve`, also handing back the AOT-compiled solve it built and ran once.

    The returned solve is what :func:`prepare_compiled` would give, already warm (its
    first run was the timed one), so steady timing can follow with ``warmup=0`` and no
    second compilation of the same solve.
    """
    with persistent_cache_disabled(), count_compilations() as log:
        t0 = time.perf_counter()
        prepared = solver.prepare(problem, config)
        stages = prepared.compile()
        t1 = time.perf_counter()
        raw = prepared.run()
        t2 = time.perf_counter()
    if log.n_compilations == 0:
        raise MeasurementError(
            f"first-call sample of {solver.name} on {problem.label} compiled nothing: "
            "JAX's caches were warm (call clear_jax_caches() before each sample)"
        )
    if log.cache_hits:
        raise MeasurementError(
            f"first-call sample of {solver.name} on {problem.label} loaded {log.cache_hits} "
            "executable(s) from JAX's persistent cache: not a cold start"
        )
    sample = FirstCallSample(
        total_s=t2 - t0,
        trace_lower_s=stages.trace_lower_s,
        compile_s=stages.compile_s,
        run_s=t2 - t1,
        n_compilations=log.n_compilations,
        backend_compile_s=log.compile_s,
    )
    return sample, prepared.result(raw), prepared


def measure_first_call(
    solver: Solver, problem: Problem, config: SolverConfig, repeats: int = 3
) -> tuple[list[FirstCallSample], Result]:
    """``repeats`` cold solves, each after clearing JAX's caches."""
    if repeats < 1:
        raise ValueError(f"first-call repeats must be >= 1, got {repeats}")
    samples = []
    result = None
    for _ in range(repeats):
        clear_jax_caches()
        sample, result = cold_solve(solver, problem, config)
        samples.append(sample)
    assert result is not None
    return samples, result


# ------------------------------------------------------------------ steady state


@dataclass
class SteadyStats:
    """Wall seconds of repeated precompiled solves (zero compilations checked)."""

    times_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    @property
    def spread(self) -> float:
        """max / min of the samples (1.0 = no spread)."""
        return self.max_s / self.min_s if self.min_s > 0 else math.inf


def prepare_compiled(solver: Solver, problem: Problem, config: SolverConfig) -> PreparedSolve:
    """Prepare and AOT-compile a solve, ready for steady-state timing."""
    prepared = solver.prepare(problem, config)
    prepared.compile()
    return prepared


def timed_run(prepared: PreparedSolve, what: str = "the timed region") -> tuple[float, Any]:
    """Time one ``prepared.run()``; raises if JAX compiled anything during it."""
    with assert_no_compilations(what):
        t0 = time.perf_counter()
        raw = prepared.run()
        elapsed = time.perf_counter() - t0
    return elapsed, raw


def measure_steady(
    prepared_by_name: dict[str, PreparedSolve],
    repeats: int = 20,
    warmup: int = 1,
    min_repeats: int | None = None,
    max_time_s: float | None = None,
) -> tuple[dict[str, SteadyStats], dict[str, Result]]:
    """Time precompiled solves, round-robin so drift hits every solver alike.

    ``repeats`` rounds, each timing every solve once; as asv's ``repeat = (min, max,
    max_time)``, when ``max_time_s`` is given the rounds stop early once at least
    ``min_repeats`` are done and the timed rounds took ``max_time_s`` in all (a round is
    never cut short, so every solver has the same number of samples).

    Returns:
      per solver name: the timing samples and the :class:`Result` of the last run.
    """
    if repeats < 1:
        raise ValueError(f"steady-state repeats must be >= 1, got {repeats}")
    least = repeats if min_repeats is None else min_repeats
    if not 1 <= least <= repeats:
        raise ValueError(f"min_repeats must be in [1, repeats={repeats}], got {min_repeats}")
    for prepared in prepared_by_name.values():
        for _ in range(warmup):
            prepared.run()
    stats = {name: SteadyStats() for name in prepared_by_name}
    raws: dict[str, Any] = {}
    started = time.perf_counter()
    for done in range(repeats):
        if max_time_s is not None and done >= least and time.perf_counter() - started >= max_time_s:
            break
        for name, prepared in prepared_by_name.items():
            elapsed, raws[name] = timed_run(prepared, f"the steady-state run of {name}")
            stats[name].times_s.append(elapsed)
    results = {name: prepared_by_name[name].result(raw) for name, raw in raws.items()}
    return stats, results


# ------------------------------------------------------------------ derived figures


def break_even_solves(first_s: float, steady_s: float, ref_first_s: float, ref_steady_s: float) -> int | None:
    """Smallest number of solves k after which a variant's total time is not worse.

    Total for k solves is ``first + (k - 1) * steady``. Returns 1 when the
    first call is already no slower than the reference's, ``None`` when the
    variant never catches up (its steady state is not faster).
    """
    if first_s <= ref_first_s:
        return 1
    if steady_s >= ref_steady_s:
        return None
    return 1 + math.ceil((first_s - ref_first_s) / (ref_steady_s - steady_s))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
