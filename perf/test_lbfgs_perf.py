"""Steady-state and first-call benchmarks of every solver on the grid.

All timing logic lives in :mod:`lbfgs_impl.measure`; this file only hands
its callables to the ``benchmark`` fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from lbfgs_impl.cases import MGH_CASES, BenchCase
from lbfgs_impl.commands.explain.static import static_extra_info, static_figures
from lbfgs_impl.measure.timing import (
    FirstCallSample,
    assert_no_compilations,
    clear_jax_caches,
    cold_solve,
    prepare_compiled,
)
from lbfgs_impl.problems import Problem
from lbfgs_impl.profiles import solved
from lbfgs_impl.records import benchmark_extra_info, counts_environment, instruction_fields, origin_fields
from lbfgs_impl.solvers import Result, Solver, get_solver


def _median_seconds(benchmark: Any) -> float | None:
    stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
    return stats.stats.median if stats is not None else None


def _available(solver_name: str) -> Solver:
    solver = get_solver(solver_name)
    reason = solver.unavailable_reason()
    if reason:
        pytest.skip(f"{solver_name}: {reason}")
    return solver


def test_steady(
    benchmark, case: BenchCase, problem: Problem, solver_name: str, perf_meta, instruction_report
) -> None:
    benchmark.group = f"{case.id} steady"
    prepared = prepare_compiled(_available(solver_name), problem, case.config())
    prepared.run()  # one warm run outside the timed rounds
    with assert_no_compilations(f"the steady benchmark of {solver_name} on {case.id}"):
        raw = benchmark(prepared.run)
    result = prepared.result(raw)
    benchmark.extra_info.update(benchmark_extra_info(result, perf_meta, seconds=_median_seconds(benchmark)))
    benchmark.extra_info.update(origin_fields(solver_name, case.problem))
    benchmark.extra_info["fixed_budget"] = case.fixed_budget
    # what XLA runs per iteration, read from the executable just timed (deterministic, like iterations);
    # an HLO this reader cannot parse is recorded beside the timing, which stands
    try:
        benchmark.extra_info.update(static_extra_info(static_figures(prepared, result)))
    except Exception as exc:
        benchmark.extra_info.update(static_extra_info(None), hlo_error=f"{type(exc).__name__}: {exc}"[:300])
    if problem.f_star is not None:  # the suite's success rule (lbfgs_impl.profiles), exact like iterations
        f0 = float(problem.value(problem.x0))
        benchmark.extra_info["solved"] = solved(result.value, problem.f_star, f0)
    if instruction_report is not None:
        benchmark.extra_info["instructions_meta"] = counts_environment(
            instruction_report.meta, instruction_report.skipped
        )
        counts = instruction_report.get(solver_name, case.problem, case.n)
        benchmark.extra_info.update(instruction_fields(counts))


def test_first_call(
    benchmark, case: BenchCase, problem: Problem, solver_name: str, perf_meta, first_call_rounds: int
) -> None:
    if case.id in {c.id for c in MGH_CASES}:
        pytest.skip("the mgh grid tracks steady time and quality only (first calls: quick and full)")
    benchmark.group = f"{case.id} first_call"
    solver, config = _available(solver_name), case.config()
    samples: list[FirstCallSample] = []
    results: list[Result] = []
    # untimed: the suite's own figures of this problem (its final-point evaluation, its evaluation count)
    # are made once here, so that no round's time includes them
    solver.solve(problem, config)

    def cold() -> None:
        sample, result = cold_solve(solver, problem, config)  # raises if nothing compiled
        samples.append(sample)
        results.append(result)

    benchmark.pedantic(cold, setup=clear_jax_caches, rounds=first_call_rounds, iterations=1, warmup_rounds=0)
    if not samples:
        pytest.fail("the first-call benchmark ran no round")
    benchmark.extra_info.update(
        benchmark_extra_info(results[-1], perf_meta, seconds=_median_seconds(benchmark), first_call=samples)
    )
    benchmark.extra_info.update(origin_fields(solver_name, case.problem))
    benchmark.extra_info["fixed_budget"] = case.fixed_budget
