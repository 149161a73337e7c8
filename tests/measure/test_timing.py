import os
import threading

import jax
import jax.numpy as jnp
import pytest

from lbfgs_impl.measure import timing as measure
from lbfgs_impl.measure.timing import (
    CompilationInTimedRegion,
    MeasurementError,
    break_even_solves,
    count_compilations,
    measure_first_call,
    measure_steady,
    pinned,
    prepare_compiled,
    timed_run,
)
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SEED_SOLVERS, SolverConfig, StageTimes, get_solver


@pytest.fixture(scope="module")
def small_problem():
    return make_problem("rosenbrock", 10)


def test_steady_state_has_zero_compilations_for_every_solver(small_problem):
    prepared = {
        name: prepare_compiled(get_solver(name), small_problem, SolverConfig()) for name in SEED_SOLVERS
    }
    for solve in prepared.values():  # the untimed figures once: the final point's value_and_grad, the count
        solve.result(solve.run())
    with count_compilations() as outer:
        stats, results = measure_steady(prepared, repeats=3, warmup=1)
    assert outer.n_compilations == 0
    for name in SEED_SOLVERS:
        assert len(stats[name].times_s) == 3
        assert all(t > 0 for t in stats[name].times_s)
        assert stats[name].min_s <= stats[name].median_s <= stats[name].max_s
        assert results[name].converged


class _RecompilingSolve:
    """A run that builds a new jitted closure each call: the classic cache miss."""

    def compile(self):
        return StageTimes(0.0, 0.0)

    def run(self):
        offset = jnp.ones(3)
        return jax.block_until_ready(jax.jit(lambda x: x + offset)(jnp.zeros(3)))

    def result(self, raw):
        return raw


def test_a_compilation_inside_the_timed_region_fails_loudly():
    with pytest.raises(CompilationInTimedRegion, match=r"JAX compilation\(s\) .* inside the timed region"):
        timed_run(_RecompilingSolve())
    with pytest.raises(CompilationInTimedRegion):
        measure_steady({"bad": _RecompilingSolve()}, repeats=2, warmup=1)


class _SleepySolve(_RecompilingSolve):
    def run(self):
        import time

        time.sleep(0.02)
        return 0


def test_steady_rounds_stop_early_only_after_min_repeats_and_max_time():
    stats, _ = measure_steady({"a": _SleepySolve(), "b": _SleepySolve()}, repeats=5, warmup=0,
                              min_repeats=2, max_time_s=0.001)  # fmt: skip
    assert [len(stats[k].times_s) for k in "ab"] == [2, 2]  # whole rounds: same count for every solve
    stats, _ = measure_steady({"a": _SleepySolve()}, repeats=5, warmup=0, min_repeats=2, max_time_s=60.0)
    assert len(stats["a"].times_s) == 5  # the budget was never reached
    stats, _ = measure_steady({"a": _SleepySolve()}, repeats=4, warmup=0, min_repeats=2)
    assert len(stats["a"].times_s) == 4  # no budget: every round
    with pytest.raises(ValueError, match="min_repeats"):
        measure_steady({"a": _SleepySolve()}, repeats=3, min_repeats=4, max_time_s=1.0)


def test_cold_start_hands_back_the_compiled_solve_ready_for_steady_timing(small_problem):
    measure.clear_jax_caches()
    sample, result, prepared = measure.cold_start(get_solver("optax_while"), small_problem, SolverConfig())
    assert sample.n_compilations >= 1
    with count_compilations() as log:
        stats, results = measure_steady({"w": prepared}, repeats=2, warmup=0)
    assert log.n_compilations == 0  # the first call compiled it; steady timing compiles nothing
    assert results["w"].n_iter == result.n_iter and len(stats["w"].times_s) == 2


def test_every_first_call_sample_compiles(solver_name, small_problem):
    samples, result = measure_first_call(get_solver(solver_name), small_problem, SolverConfig(), repeats=2)
    assert len(samples) == 2
    for s in samples:
        assert s.n_compilations >= 1
        assert s.backend_compile_s > 0
        assert s.trace_lower_s > 0 and s.compile_s > 0 and s.run_s > 0
        assert s.total_s >= s.trace_lower_s + s.compile_s + s.run_s
    assert result.converged


class _NoCompileSolve(_RecompilingSolve):
    def run(self):
        return 0


class _NoJaxSolver:
    name = "nojax"

    def prepare(self, problem, config):
        return _NoCompileSolve()


def test_a_first_call_that_compiles_nothing_is_rejected(small_problem):
    with pytest.raises(MeasurementError, match="compiled nothing"):
        measure.cold_solve(_NoJaxSolver(), small_problem, SolverConfig())


def test_count_compilations_sees_a_fresh_jit():
    x = jax.block_until_ready(jnp.arange(5.0))
    with count_compilations() as log:
        jax.block_until_ready(jax.jit(lambda x: x * 2.0 + 1.0)(x))
    assert log.n_compilations == 1
    assert log.compile_s > 0


def test_persistent_cache_is_off_during_first_call_and_restored():
    before = jax.config.jax_enable_compilation_cache
    with measure.persistent_cache_disabled():
        assert jax.config.jax_enable_compilation_cache is False
    assert jax.config.jax_enable_compilation_cache == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0.5, 0.01, 0.6, 0.05), 1),  # first call already faster
        ((1.0, 0.01, 0.1, 0.10), 11),  # 0.9 s extra, 0.09 s saved per solve -> 1 + 10
        ((1.0, 0.02, 0.1, 0.05), 31),  # 1 + ceil(0.9 / 0.03)
        ((1.0, 0.10, 0.1, 0.10), None),  # never pays back
    ],
)
def test_break_even_solves(args, expected):
    assert break_even_solves(*args) == expected


def _thread_affinities():
    return {int(t): os.sched_getaffinity(int(t)) for t in os.listdir("/proc/self/task")}


def test_pinning_moves_every_thread_and_restores(run_cpus):
    before = os.sched_getaffinity(0)
    assert sorted(before) == run_cpus  # every CPU of the run, even in an xdist worker pinned to one
    target = min(before)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        with pinned() as info:
            assert info["pinned"] is True and info["cpus"] == [target]
            assert info["cpus_before"] == sorted(before)
            assert info["after_jax_init"] is True  # this test process has used JAX already
            assert all(cpus == {target} for cpus in _thread_affinities().values())
        assert os.sched_getaffinity(0) == before
        assert all(cpus == before for cpus in _thread_affinities().values())
    finally:
        stop.set()
        worker.join()


def test_pinning_can_be_disabled_and_rejects_unknown_cpus():
    with pinned(None) as info:
        assert info["pinned"] is False
    with pytest.raises(ValueError, match="may use CPUs"), pinned(10_000):
        pass


_FIRST_CALLS_WITH_A_USER_CACHE = """
import jax
from lbfgs_impl.measure.timing import count_compilations, measure_first_call
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver

problem = make_problem("quadratic", 5)  # compiles with the user's cache on: JAX opens it here
solver, config = get_solver("optax_while"), SolverConfig()
samples, _ = measure_first_call(solver, problem, config, repeats=2)  # raises on a cache hit
for _ in range(2):  # and after the first calls, the user's cache is back: written, then read
    with count_compilations() as log:
        jax.clear_caches()
        solver.prepare(problem, config).compile()
print(len(samples), log.cache_hits)
"""


def test_first_calls_stay_cold_with_a_persistent_cache_configured(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"))
    env.update(JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    env.pop("JAX_ENABLE_COMPILATION_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_CALLS_WITH_A_USER_CACHE], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_samples, hits_after = map(int, proc.stdout.split())
    assert n_samples == 2 and hits_after >= 1
