"""The measurements behind ``lbfgs-bench report``: one function per stage, each returning plain data.

Scaling and the speedups are here; the floor is in :mod:`.floor`, break-even in
:mod:`.first_call`, batched solves and convergence in :mod:`.batched` (all
re-exported here).

Every stage uses the measurement core (:mod:`lbfgs_impl.measure`): precompiled
steady runs with zero compilations checked, first calls with cleared caches or
in fresh processes. Stages never raise for a solver's failure; the report
driver records a stage that raises as failed and goes on.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.commands.report.batched import batched, check_trace, convergence
from lbfgs_impl.commands.report.first_call import JAX_SOLVERS, break_even, check_children, fresh_first_call
from lbfgs_impl.commands.report.floor import evaluation_chain, evaluation_floor, overhead_ratio
from lbfgs_impl.commands.report.plans import sized_for
from lbfgs_impl.measure.timing import clear_jax_caches, cold_start, measure_steady
from lbfgs_impl.problems import problem_origin
from lbfgs_impl.solvers import SEED_SOLVERS, get_solver

__all__ = [
    "JAX_SOLVERS",
    "batched",
    "break_even",
    "check_children",
    "check_trace",
    "convergence",
    "crossover_direction",
    "crossover_n",
    "crossovers",
    "evaluation_chain",
    "evaluation_floor",
    "fresh_first_call",
    "overhead_ratio",
    "scaling",
    "speedup_curves",
    "speedups",
]


# --------------------------------------------------------------------------- 1. scaling


def scaling(
    cases: Sequence[BenchCase],
    repeats: int,
    progress: Callable[[str], None],
    solvers: Sequence[str] = SEED_SOLVERS,
    min_repeats: int | None = None,
    max_time_s: float | None = None,
    keep: dict[str, tuple[Any, Any]] | None = None,
    keep_case: tuple[str, int, int] | None = None,
) -> list[dict[str, Any]]:
    """First call (caches cleared) and steady time of every solver at every size.

    ``keep``: filled with solver -> (compiled solve, result) at ``keep_case`` (problem, n,
    maxiter), for a later stage that reads the same executables (the report's explain stage).

    Each solver's first call builds and compiles the solve that its steady rounds then time
    (:func:`~lbfgs_impl.measure.timing.cold_start`: one compilation per solver and size,
    the first call serving as the warm-up). Steady rounds: ``repeats``, or as few as
    ``min_repeats`` once the rounds took ``max_time_s`` (``steady_samples`` says how many).
    Dense BFGS solvers (``dense_hessian``) run up to ``plans.DENSE_MAX_N`` only (:func:`sized_for`).
    """
    _ready_process(solvers, cases[0] if cases else None)
    rows = []
    for case in cases:
        progress(f"scaling: {case.id}{' (fixed budget)' if case.fixed_budget else ''}")
        problem, config = case.make_problem(), case.config()
        active = sized_for(solvers, case.n)
        firsts, prepared = {}, {}
        for s in active:
            clear_jax_caches()
            firsts[s], _, prepared[s] = cold_start(get_solver(s), problem, config)
        stats, results = measure_steady(
            prepared, repeats=repeats, warmup=0, min_repeats=min_repeats, max_time_s=max_time_s
        )
        if keep is not None and (case.problem, case.n, case.maxiter) == keep_case:
            keep.update({s: (prepared[s], results[s]) for s in active})
        for s in active:
            first, r = firsts[s], results[s]
            rows.append(
                {
                    "problem": case.problem,
                    "problem_origin": problem_origin(case.problem).to_dict(),
                    "n": case.n,
                    "solver": s,
                    "fixed_budget": case.fixed_budget,
                    **config._asdict(),  # maxiter (the case's), gtol, memory_size
                    "peer": s not in SEED_SOLVERS,
                    "first_call_s": first.total_s,
                    "compile_s": first.compile_s,
                    "first_call_compilations": first.n_compilations,
                    "steady_s": stats[s].median_s,
                    "steady_samples": len(stats[s].times_s),
                    "n_iter": r.n_iter,
                    "n_fev": r.n_fev,
                    "converged": r.converged,
                    "seconds_per_iteration": stats[s].median_s / r.n_iter if r.n_iter else None,
                }
            )
    return rows


def _ready_process(solvers: Sequence[str], case: BenchCase | None) -> None:
    """What a user's script has done before its first solve, so no first call pays it: import every
    solver's library (peers import theirs lazily) and jit one function (JAX's one-off lowering set-up)."""
    import importlib

    import jax

    for s in solvers:
        package = getattr(get_solver(s), "package", "")
        if package:
            importlib.import_module(package)
    importlib.import_module("jax.scipy.optimize")
    if case is not None:
        problem = case.make_problem()
        jax.block_until_ready(jax.jit(jax.value_and_grad(problem.objective))(problem.x0, problem.data))


def _speed_basis(row: dict[str, Any]) -> float | None:
    """Steady time per solve, or per iteration where the budget is fixed (SciPy may stop early there)."""
    return row.get("seconds_per_iteration") if row.get("fixed_budget") else row["steady_s"]


def comparable(row: dict[str, Any]) -> bool:
    """A row whose time can enter a speedup: a converged solve, or any solve on a fixed budget
    (compared per iteration). A solve that stopped short of its stopping rule is fast for doing less."""
    return bool(row.get("converged", True)) or bool(row.get("fixed_budget"))


PER_SOLVE, PER_ITERATION = "per solve", "per iteration"
BASES = (PER_SOLVE, PER_ITERATION)


def basis(row: dict[str, Any]) -> str:
    """What a row's speedup compares: time per iteration at a fixed budget, else time per solve."""
    return PER_ITERATION if row.get("fixed_budget") else PER_SOLVE


def speedups(
    rows: Sequence[dict[str, Any]], on: str = PER_SOLVE
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per problem and solver, (n, SciPy's time / the solver's) in order of n, on one basis only.

    ``on`` = :data:`PER_SOLVE`: the sizes where each solve runs to its stopping rule, time per
    solve; :data:`PER_ITERATION`: the fixed budgets (``fixed_budget``), time per iteration (a
    solver that stops early would otherwise look faster for doing less). A curve never joins the
    two: their ratios measure different things, so nothing is interpolated across the change.
    Solves that did not converge (outside fixed budgets) are left out (:func:`comparable`).
    """
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    rows = [r for r in rows if comparable(r) and basis(r) == on]
    ref = {(r["problem"], r["n"]): _speed_basis(r) for r in rows if r["solver"] == "scipy"}
    for r in rows:
        key = (r["problem"], r["n"])
        mine = _speed_basis(r)
        if ref.get(key) and mine and r["solver"] != "scipy":
            out.setdefault(r["problem"], {}).setdefault(r["solver"], []).append((r["n"], ref[key] / mine))
    for per_solver in out.values():
        for pts in per_solver.values():
            pts.sort()
    return out


def speedup_curves(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every speedup curve: one per (problem, solver, basis), with its crossover (see :func:`crossover_n`)."""
    return [
        {"problem": p, "solver": s, "basis": on, "points": pts, "crossover": crossover_n(pts)}
        for on in BASES
        for p, per in speedups(rows, on).items()
        for s, pts in per.items()
    ]


ITERATION_GAP = 2.0  # iteration counts further apart than this make a per-solve speedup an iteration count


def iteration_gaps(rows: Sequence[dict[str, Any]], factor: float = ITERATION_GAP) -> list[dict[str, Any]]:
    """Speedups per solve that mostly count iterations: a solver whose iterations differ from SciPy's
    by more than ``factor`` (either way) on a problem solved to its stopping rule.

    Returns one dict per such (problem, n, solver): both iteration counts, the per-solve speedup
    and the per-iteration one (SciPy's time per iteration / the solver's), in order.
    Fixed budgets are left out: their speedup is per iteration already.
    """
    scipy = {
        (r["problem"], r["n"]): r
        for r in rows
        if r["solver"] == "scipy" and not r.get("fixed_budget") and comparable(r)
    }
    out = []
    for r in rows:
        ref = scipy.get((r["problem"], r["n"]))
        if ref is None or r["solver"] == "scipy" or r.get("fixed_budget") or not comparable(r):
            continue
        mine, theirs = int(r["n_iter"]), int(ref["n_iter"])
        if max(mine, theirs) <= factor * min(mine, theirs):  # (0 against 0 is no gap; 0 against k is)
            continue
        per_iter = (
            ref["seconds_per_iteration"] / r["seconds_per_iteration"]
            if ref.get("seconds_per_iteration") and r.get("seconds_per_iteration")
            else None
        )
        out.append(
            {
                "problem": r["problem"], "n": r["n"], "solver": r["solver"],
                "n_iter": mine, "scipy_n_iter": theirs,
                "speedup_per_solve": (
                    ref["steady_s"] / r["steady_s"] if r.get("steady_s") and ref.get("steady_s") else None
                ),
                "speedup_per_iteration": per_iter,
            }
        )  # fmt: skip
    return sorted(out, key=lambda g: (g["problem"], g["n"], g["solver"]))


def crossover_direction(points: Sequence[tuple[int, float]]) -> str | None:
    """How the first crossing of 1 goes: ``"falls below"`` (the solver stops winning as n grows),
    ``"rises above"`` (it starts winning), ``None`` when the curve never crosses."""
    for (_, s0), (_, s1) in itertools.pairwise(points):
        if (s0 - 1.0) * (s1 - 1.0) <= 0 and s0 != s1:
            return "falls below" if s1 < s0 else "rises above"
    return None


def crossover_n(points: Sequence[tuple[int, float]]) -> float | None:
    """The n where a speedup curve first falls through 1, interpolated in log n; ``None`` if it never does.

    ``math.inf`` is never returned: a curve above 1 everywhere gives ``None``
    (the caller says "faster at every measured n"). Either direction counts:
    :func:`crossover_direction` says which.
    """
    for (n0, s0), (n1, s1) in itertools.pairwise(points):
        if (s0 - 1.0) * (s1 - 1.0) <= 0 and s0 != s1:
            # linear in (log n, log speedup)
            a, b = math.log(n0), math.log(n1)
            u, v = math.log(s0), math.log(s1)
            return math.exp(a + (0.0 - u) * (b - a) / (v - u))
    return None


def crossovers(scaling: Sequence[dict[str, Any]], on: str = PER_SOLVE) -> dict[str, dict[str, float | None]]:
    """Per problem and solver, the n where the speedup over SciPy crosses 1 (either way), on one basis."""
    return {p: {s: crossover_n(pts) for s, pts in per.items()} for p, per in speedups(scaling, on).items()}


# --------------------------------------------------------------------------- helpers


def median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
