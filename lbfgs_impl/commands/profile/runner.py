"""``lbfgs-bench profile``: every solver on the Moré-Garbow-Hillstrom set, success rates and profiles.

Each problem is solved by every solver with the same :class:`SolverConfig`;
steady time is the median of ``repeats`` precompiled runs (round-robin across
solvers, zero compilations checked), evaluations are counted as everywhere
else, instructions (optional) come from :mod:`lbfgs_impl.measure.instructions`.
Success is the suite's rule (:func:`lbfgs_impl.profiles.solved`), never a
library's own flag; a solver that raises is a failure with its error kept.
Profiles charge each solver up to its first evaluation that meets the test
(Moré and Wild), at each tolerance of :data:`lbfgs_impl.profiles.PROFILE_TOLS`,
from the values of one untimed traced solve (:mod:`.trace`). A problem with no
published f* at its dimension is excluded (the best any solver found would make
the least bad solver succeed), and listed as such.
"""

from __future__ import annotations

import functools
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lbfgs_impl.commands.profile.trace import evaluations_to_success, traced_solve, traced_values
from lbfgs_impl.problems import make_problem, mgh
from lbfgs_impl.profiles import PROFILE_TOLS, SUCCESS_TOL, near, profile, solved, success_rule_text
from lbfgs_impl.solvers import SolverConfig, get_solver
from lbfgs_impl.solvers.base import PathMismatch

#: ``profile --quick``: fixed and variable-dimension problems, easy and hard, ~3 minutes for all solvers.
QUICK_PROBLEMS: tuple[str, ...] = (
    "mgh_rosenbrock",
    "mgh_freudenstein_roth",
    "mgh_beale",
    "mgh_helical_valley",
    "mgh_box_3d",
    "mgh_wood",
    "mgh_extended_rosenbrock",
    "mgh_penalty_1",
    "mgh_trigonometric",
    "mgh_broyden_tridiagonal",
)

METRICS = {
    "time": ("steady_s", "steady time up to the first success (scaled by evaluations)"),
    "evaluations": ("n_fev", "f+g evaluations up to the first success"),
    "instructions": ("instructions", "instructions up to the first success (scaled by evaluations)"),
}


def tol_key(tol: float) -> str:
    return f"{tol:g}"


@dataclass
class Run:
    """One solver on one problem."""

    problem: str
    n: int
    mgh_number: int | None
    solver: str
    f0: float
    f_star: float | None
    value: float | None = None
    grad_inf_norm: float | None = None
    n_iter: int | None = None
    n_fev: int | None = None
    steady_s: float | None = None
    instructions: float | None = None
    instructions_total: float | None = None
    instructions_thread_pool_share: float | None = None
    # iterations of the counted solve (built for valgrind's instruction set, not this CPU's): where
    # they differ from ``n_iter`` the count is of a solve that took another path
    instructions_n_iter: int | None = None
    converged: bool = False
    solved: bool = False
    minimum_reached: str = ""
    status: str = ""
    error: str = ""
    traced_fev: int | None = None  # evaluations of the untimed traced solve (== n_fev when counted alike)
    fev_to_success: dict[str, int | None] = field(default_factory=dict)  # per tolerance (tol_key)
    cpu: str = ""  # the machine that timed it: CPU model and host
    host: str = ""

    def cost_to_success(self, metric: str, tol: float) -> float | None:
        """The metric charged up to the first evaluation meeting the test at ``tol``; ``None``: never met."""
        k = self.fev_to_success.get(tol_key(tol))
        if k is None or not self.traced_fev:
            return None
        if metric == "evaluations":
            return float(k)
        whole = getattr(self, METRICS[metric][0])
        return None if whole is None else whole * k / self.traced_fev


@dataclass
class ProfileRun:
    runs: list[Run]
    problems: list[str]
    solvers: list[str]
    skipped_solvers: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    excluded_problems: dict[str, str] = field(default_factory=dict)

    def costs(
        self, metric: str, tol: float = SUCCESS_TOL, problems: Sequence[str] | None = None
    ) -> dict[str, list[float | None]]:
        """Per solver, the metric's cost per problem (default: all) up to its first success at ``tol``.

        ``None`` where the solver never met the test.
        """
        by = {(r.problem, r.solver): r for r in self.runs}
        return {
            s: [by[p, s].cost_to_success(metric, tol) for p in problems or self.problems]
            for s in self.solvers
        }

    def timed_on(self) -> dict[str, list[str]]:
        """CPU model -> the problems it timed (one model unless the timing ran on a mixed cluster)."""
        models: dict[str, list[str]] = {}
        for r in self.runs:
            if r.steady_s is not None and r.problem not in models.setdefault(r.cpu, []):
                models[r.cpu].append(r.problem)
        return models

    def has(self, metric: str) -> bool:
        key = METRICS[metric][0]
        return any(getattr(r, key) is not None for r in self.runs)


def _minimum_label(value: float, f_star: float | None, name: str) -> str:
    """Which known minimum ``value`` is at, two-sided (:func:`lbfgs_impl.profiles.near`)."""
    if f_star is not None and near(value, f_star):
        return "global minimum (MGH f*)"
    for label, other in mgh.SPECS[name].known_minima if name in mgh.SPECS else ():
        if near(value, other):
            return label
    return "none of the known minima"


def run_profile(
    problems: Sequence[str],
    solvers: Sequence[str],
    *,
    config: SolverConfig | None = None,
    repeats: int = 3,
    instructions: bool = False,
    instruction_cpus: Sequence[int] | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    bar: Any = None,
    scheduler: str | None = None,
    on_instruction_result: Callable[[Any], None] | None = None,
    timed: bool = True,
    instruction_resume: dict[str, Any] | None = None,
) -> ProfileRun:
    """Solve every problem with every available solver; see the module docstring.

    ``scheduler`` says where the instruction counts run (:mod:`lbfgs_impl.measure.cluster`);
    ``on_instruction_result`` gets each task's counts as they arrive (to save them);
    ``instruction_resume`` holds counts saved by an earlier run (not counted again).
    ``timed=False`` times nothing (:func:`trace_problem`): outcomes and evaluations only.
    """
    # long function: the profile's phases in order (check the solvers and problems, time or trace
    # each problem here or on the cluster, then the instruction counts), each a call of its own.
    from lbfgs_impl.commands.profile.remote import time_on_cluster, timing_address

    config = (config or SolverConfig()).validate()
    skipped = {s: r for s in solvers if (r := get_solver(s).unavailable_reason())}
    active = [s for s in solvers if s not in skipped]
    excluded: dict[str, str] = {}
    for name in problems:
        problem = make_problem(name)
        if problem.f_star is None:
            excluded[name] = f"no published f* at n={problem.n}: excluded (no reference to test success)"
            progress(f"{name}: {excluded[name]}")
    kept = [p for p in problems if p not in excluded]
    address = timing_address(scheduler)
    task = (
        functools.partial(time_problem, active=list(active), config=config, repeats=repeats)
        if timed
        else functools.partial(trace_problem, active=list(active), config=config)
    )
    if address is not None:  # one task per problem, all its solvers: every ratio within one machine
        failed = functools.partial(_failed_rows, active=active)
        runs = time_on_cluster(kept, task, failed, address, progress, bar)
    else:
        runs = []
        for name in kept:
            rows = task(name)
            runs.extend(rows)
            if bar is not None:
                bar.update(len(rows))
            progress(f"{name}: solved by {', '.join(r.solver for r in rows if r.solved) or 'none'}")
    result = ProfileRun(runs, kept, active, skipped, excluded_problems=excluded, meta={"timed": timed})
    if instructions:
        _add_instructions(
            result,
            config,
            instruction_cpus,
            progress,
            bar,
            scheduler,
            on_instruction_result,
            instruction_resume,
        )
    return result


def time_problem(name: str, active: Sequence[str], config: SolverConfig, repeats: int) -> list[Run]:
    """Every solver of ``active`` on problem ``name`` (which has a published f*), timed round-robin here.

    Each row records the machine (CPU model, host) that timed it.
    """
    from lbfgs_impl.measure.environment import cpu_model
    from lbfgs_impl.measure.timing import CompilationInTimedRegion, measure_steady, prepare_compiled

    problem, new_row = _rows_for(name)
    prepared, rows = {}, {}
    for s in active:
        row = new_row(s, cpu=cpu_model(), host=platform.node())
        rows[s] = row
        try:
            prepared[s] = prepare_compiled(get_solver(s), problem, config)
        except Exception as exc:  # a failure is a result
            row.error = f"{type(exc).__name__}: {exc}"
    try:
        stats, results = measure_steady(prepared, repeats=repeats) if prepared else ({}, {})
    except CompilationInTimedRegion:
        raise
    except Exception:  # one solver broke the round-robin: time them one by one
        stats, results = {}, {}
        for s, prep in prepared.items():
            try:
                one_stats, one_result = measure_steady({s: prep}, repeats=repeats)
                stats.update(one_stats)
                results.update(one_result)
            except Exception as exc:
                rows[s].error = f"{type(exc).__name__}: {exc}"
    for s in active:
        row = rows[s]
        if s in results:
            _fill(row, results[s])
            row.steady_s = stats[s].median_s
            _charge_to_success(row, s, problem, config, results[s])
    return [rows[s] for s in active]


def trace_problem(name: str, active: Sequence[str], config: SolverConfig) -> list[Run]:
    """Every solver of ``active`` on problem ``name``, timing nothing: one traced solve each
    (:func:`~lbfgs_impl.commands.profile.trace.traced_solve`) gives the outcome and the
    evaluations up to each success, all an evaluation profile needs (``steady_s`` stays ``None``).

    The traced solve must have made as many evaluations as the solver counts for it (its own
    count, or a peer's counting solve checked against the traced one's path); a solve where
    they differ is a failure with the reason kept.
    """
    problem, new_row = _rows_for(name)
    rows = []
    for s in active:
        row = new_row(s)
        try:
            values, result = traced_solve(s, problem, config)
            if result.n_fev != len(values):
                raise PathMismatch(
                    f"{s} on {problem.label}: the traced solve made {len(values)} evaluations, "
                    f"the solver counted {result.n_fev}"
                )
        except Exception as exc:  # a failure is a result
            row.error = f"{type(exc).__name__}: {exc}"
        else:
            _fill(row, result)
            _charge(row, values)
        rows.append(row)
    return rows


def _rows_for(name: str) -> tuple[Any, Callable[..., Run]]:
    """Problem ``name`` and a maker of its rows, ``new_row(solver, **fields)`` (f0 and MGH number once)."""
    problem = make_problem(name)
    f0 = float(problem.value(problem.x0))
    number = mgh.SPECS[name].number if name in mgh.SPECS else None
    return problem, functools.partial(Run, name, problem.n, number, f0=f0, f_star=problem.f_star)


def _fill(row: Run, r: Any) -> None:
    """The outcome of one solve, judged by the suite's rule."""
    row.value, row.grad_inf_norm = r.value, r.grad_inf_norm
    row.n_iter, row.n_fev, row.converged, row.status = r.n_iter, r.n_fev, r.converged, r.status
    row.solved = solved(r.value, row.f_star, row.f0)
    row.minimum_reached = _minimum_label(r.value, row.f_star, row.problem)


def _failed_rows(name: str, error: str, active: Sequence[str]) -> list[Run]:
    """One row per solver for a problem whose timing task failed everywhere."""
    _, new_row = _rows_for(name)
    return [new_row(s, error=error) for s in active]


def _charge_to_success(row: Run, solver: str, problem: Any, config: SolverConfig, timed: Any) -> None:
    """Fill ``row.traced_fev`` and ``row.fev_to_success`` from one untimed traced solve."""
    try:
        values = traced_values(solver, problem, config, timed)
    except Exception as exc:  # the run stays, uncharged: a failure in the profiles, with the reason kept
        row.error = f"{type(exc).__name__}: {exc}"
        return
    _charge(row, values)


def _charge(row: Run, values: Sequence[float]) -> None:
    row.traced_fev = len(values)
    row.fev_to_success = {
        tol_key(t): evaluations_to_success(values, row.f_star, row.f0, t) for t in PROFILE_TOLS
    }


def _add_instructions(
    run: ProfileRun,
    config: SolverConfig,
    cpus: Sequence[int] | None,
    progress: Callable[[str], None],
    bar: Any,
    scheduler: str | None,
    on_result: Callable[[Any], None] | None,
    resume: dict[str, Any] | None = None,
) -> None:
    from lbfgs_impl.measure.cluster import count_instructions
    from lbfgs_impl.measure.instructions import InstructionTask
    from lbfgs_impl.records import counts_environment, thread_pool_fields

    # each row has its evaluations already (timed or traced): the builders do not count them again
    tasks = [
        InstructionTask(r.solver, r.problem, r.n, config, evaluations=False)
        for r in run.runs
        if r.value is not None
    ]
    progress(f"instruction counts under callgrind: {len(tasks)} process(es)")
    if bar is not None:  # the same bar, now counting processes as they come back
        bar.reset(total=len(tasks))
        bar.set_description("instructions")

    def advance(done: int, total: int) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()

    t0 = time.monotonic()
    report = count_instructions(tasks, repeats=1, cpus=cpus, scheduler=scheduler, progress=advance,
                                on_result=on_result, resume=resume)  # fmt: skip
    phase_s = time.monotonic() - t0
    run.meta["instructions"] = counts_environment(report.meta, report.skipped)
    # the phase's wall time (the counting workers' start-up included) and its rate, for the scaling figures
    run.meta["instructions"].update(tasks=len(tasks), phase_s=round(phase_s, 1))
    if not report.skipped and tasks:
        rate = 60 * len(tasks) / phase_s
        progress(f"instruction counts: {len(tasks)} process(es) in {phase_s:.0f} s ({rate:.2f} a minute)")
    if report.skipped:
        progress(f"instruction counts skipped: {report.skipped}")
        return
    for r in run.runs:
        counts = report.get(r.solver, r.problem, r.n)
        if counts is not None and counts.ok:
            r.instructions = counts.median
            pool = thread_pool_fields(counts)
            r.instructions_total = pool["instructions_total"]
            r.instructions_thread_pool_share = pool["instructions_thread_pool_share"]
            r.instructions_n_iter = int(statistics.median_low(counts.n_iter))


# --------------------------------------------------------------------------- outputs


def to_dict(run: ProfileRun) -> dict[str, Any]:
    return {
        "meta": run.meta,
        "success_rule": success_rule_text(),
        "profile_tolerances": list(PROFILE_TOLS),
        "cost_charged": "up to the first evaluation meeting the test (Moré-Wild), in a traced untimed solve",
        "problems": run.problems,
        "excluded_problems": run.excluded_problems,
        "solvers": run.solvers,
        "skipped_solvers": run.skipped_solvers,
        "runs": [asdict(r) for r in run.runs],
    }


def success_table(run: ProfileRun) -> list[tuple[str, int, int]]:
    return [(s, sum(r.solved for r in run.runs if r.solver == s), len(run.problems)) for s in run.solvers]


def winners(run: ProfileRun, metric: str, tol: float = SUCCESS_TOL) -> list[tuple[str, float]]:
    """rho_s(1) per solver at ``tol``: the share of problems on which it was the cheapest, best first."""
    rho = profile(run.costs(metric, tol), [1.0])
    return sorted(((s, float(v[0])) for s, v in rho.items()), key=lambda t: -t[1])
