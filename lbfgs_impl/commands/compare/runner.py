"""The side-by-side comparison behind ``lbfgs-bench compare``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lbfgs_impl.measure.cluster import count_instructions
from lbfgs_impl.measure.environment import collect_meta
from lbfgs_impl.measure.instructions import InstructionCounts, InstructionReport, InstructionTask
from lbfgs_impl.measure.timing import (
    CompilationInTimedRegion,
    FirstCallSample,
    MeasurementError,
    SteadyStats,
    break_even_solves,
    measure_first_call,
    measure_steady,
    median,
    prepare_compiled,
    timed_run,
)
from lbfgs_impl.problems import Problem, problem_origin
from lbfgs_impl.records import counts_environment
from lbfgs_impl.registry import one_line
from lbfgs_impl.solvers import Result, SolverConfig, get_solver, solver_origin

REFERENCE_SOLVER = "scipy"


@dataclass
class ComparisonRow:
    """All figures for one solver on one problem."""

    solver: str
    problem: Problem
    first_call: list[FirstCallSample]
    steady: SteadyStats
    result: Result
    speedup_vs_scipy: float | None = None
    break_even_vs_scipy: int | None = None
    break_even_note: str = ""
    instructions: InstructionCounts | None = None
    #: where the solver comes from (:meth:`lbfgs_impl.registry.Origin.to_dict`)
    origin: dict[str, Any] = field(default_factory=dict)
    #: the solver raised (or returned a wrong state): no timings, the reason in ``result.status``
    failed: bool = False

    @property
    def first_call_s(self) -> float:
        return median([s.total_s for s in self.first_call]) if self.first_call else math.nan

    @property
    def compile_s(self) -> float:
        return median([s.compile_s for s in self.first_call]) if self.first_call else math.nan

    @property
    def steady_s(self) -> float:
        return self.steady.median_s if self.steady.times_s else math.nan

    @property
    def seconds_per_iteration(self) -> float | None:
        return (
            self.steady.median_s / self.result.n_iter if self.result.n_iter > 0 and not self.failed else None
        )


@dataclass
class Comparison:
    meta: dict[str, Any]
    config: SolverConfig
    rows: list[ComparisonRow]
    instructions: InstructionReport | None = None


@dataclass(frozen=True)
class InstructionOptions:
    """The instruction-count phase of a comparison (see :mod:`lbfgs_impl.measure.instructions`)."""

    repeats: int = 3
    compile: bool = False
    cpus: tuple[int, ...] | None = None
    scheduler: str | None = None  # lbfgs_impl.measure.cluster (default: $LBFGS_BENCH_SCHEDULER, else local)


def run_comparison(
    problem: Problem,
    solvers: Sequence[str],
    config: SolverConfig,
    *,
    repeats: int = 20,
    first_call_repeats: int = 3,
    pinning: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    instructions: InstructionOptions | None = None,
) -> Comparison:
    """First-call and steady-state figures for ``solvers`` on ``problem``.

    Args:
      pinning: what :func:`lbfgs_impl.measure.pinned` yielded, if the caller
        pinned the process (do it before building the problem); recorded in ``meta``.
      progress: called with a one-line message before each phase.
      instructions: also count instructions under callgrind (run first, in
        subprocesses on every CPU the process had before pinning; each builds
        the registry problem with its default parameters). Skipped,
        with the reason recorded, where valgrind or a C compiler is missing.
    """
    # long function: the comparison's one sequence (first calls, steady state, counts, rows); each step
    # is a call, and the order is the measurement protocol, kept readable in one place.
    resolved = [get_solver(name) for name in solvers]
    config = config.validate()
    report = None
    if instructions is not None:
        report = _count_instructions(problem, solvers, config, instructions, pinning, progress)
    first: dict[str, tuple[list[FirstCallSample], Result]] = {}
    failed: dict[str, Result] = {}
    for solver in resolved:
        progress(f"{solver.name}: {first_call_repeats} first-call sample(s), caches cleared")
        try:
            first[solver.name] = measure_first_call(solver, problem, config, first_call_repeats)
        except (MeasurementError, CompilationInTimedRegion):
            raise
        except Exception as exc:  # a solver that raises or returns a wrong state: its row's outcome
            failed[solver.name] = failed_result(problem, f"failed: the solver raised {one_line(exc)}")
            progress(f"{solver.name}: {failed[solver.name].status}")
    progress("compiling for steady state")
    prepared = {s.name: prepare_compiled(s, problem, config) for s in resolved if s.name not in failed}
    for name in [n for n in prepared if solver_origin(n).kind != "built-in"]:
        status = _steady_fault(prepared[name], name)
        if status:  # a plugin that compiles or raises in its steady runs: its row's outcome
            failed[name] = failed_result(problem, status)
            progress(f"{name}: {status}")
            del prepared[name]
    progress(f"steady state: {repeats} round(s) of {', '.join(prepared)}")
    steady, results = measure_steady(prepared, repeats=repeats) if prepared else ({}, {})
    meta = collect_meta(pinning)
    rows = [
        ComparisonRow(s.name, problem, [], SteadyStats(), failed[s.name], failed=True)
        if s.name in failed
        else ComparisonRow(s.name, problem, first[s.name][0], steady[s.name], results[s.name])
        for s in resolved
    ]
    for row in rows:
        row.origin = solver_origin(row.solver).to_dict()
    reference = next((r for r in rows if r.solver == REFERENCE_SOLVER and not r.failed), None)
    if reference is not None:
        for row in (r for r in rows if not r.failed):
            pair = (reference, row)
            if all(r.result.converged for r in pair) or all(r.result.n_iter >= config.maxiter for r in pair):
                # the same work (both converged, or both spent the budget): else no speedup is shown
                row.speedup_vs_scipy = reference.steady.median_s / row.steady.median_s
            unconverged = [r.solver for r in (reference, row) if not r.result.converged]
            if unconverged:
                # Runs that stopped early (maxiter, failure) did different amounts of work.
                row.break_even_note = (
                    f"break-even not computed: {' and '.join(dict.fromkeys(unconverged))} did not converge"
                )
                continue
            row.break_even_vs_scipy = break_even_solves(
                row.first_call_s, row.steady.median_s, reference.first_call_s, reference.steady.median_s
            )
            if row.break_even_vs_scipy is None:
                row.break_even_note = "never pays back its first call (not faster in steady state)"
    meta["problem"] = {"name": problem.name, "n": problem.n, "params": dict(problem.params)}
    try:
        meta["problem"]["origin"] = problem_origin(problem.name).to_dict()
    except ValueError:  # a Problem built by the caller, not looked up by name
        meta["problem"]["origin"] = None
    meta["config"] = config._asdict()
    meta["repeats"] = {"steady": repeats, "first_call": first_call_repeats}
    if report is not None:
        meta["instructions"] = counts_environment(report.meta, report.skipped)
        for row in rows:
            row.instructions = report.get(row.solver, problem.name, problem.n)
    return Comparison(meta, config, rows, report)


def _steady_fault(prepared: Any, name: str) -> str:
    """Why a plugin's solve cannot be timed in steady state (one warm-up run, then one run checked to
    compile nothing), or ``""``: a built-in doing so is a measurement error, a plugin's is its outcome."""
    try:
        prepared.run()
        timed_run(prepared, f"the steady-state run of {name}")
    except CompilationInTimedRegion as exc:
        return f"failed: compiles inside its timed solve ({one_line(exc)})"
    except Exception as exc:
        return f"failed: the solver raised {one_line(exc)}"
    return ""


def failed_result(problem: Problem, status: str) -> Result:
    """The recorded outcome of a solve that did not finish: no point reached, not converged."""
    return Result(np.asarray(problem.x0), math.nan, math.nan, 0, 0, False, status)


def _count_instructions(
    problem: Problem,
    solvers: Sequence[str],
    config: SolverConfig,
    options: InstructionOptions,
    pinning: dict[str, Any] | None,
    progress: Callable[[str], None],
) -> InstructionReport:
    cpus = options.cpus
    if cpus is None and pinning and pinning.get("pinned"):
        cpus = tuple(pinning["cpus_before"])  # the timing process is pinned; the counting workers need not be
    tasks = [InstructionTask(name, problem.name, problem.n, config) for name in solvers]
    what = "solve and compile" if options.compile else "solve"
    progress(f"instruction counts ({what}) under callgrind: {len(tasks)} x {options.repeats} process(es)")
    report = count_instructions(
        tasks, repeats=options.repeats, compile=options.compile, cpus=cpus, scheduler=options.scheduler
    )
    if report.skipped:
        progress(f"instruction counts skipped: {report.skipped}")
    return report
