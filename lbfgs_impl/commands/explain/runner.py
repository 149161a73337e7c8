"""The callgrind part of ``explain``: one counted solve per solver, by category, and the floor's probes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.explain.probes import ALGEBRA, EVALUATION, PROBE_REPEATS, probe_name
from lbfgs_impl.measure.attribution import attribute, kept_dumps
from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions, unavailable_reason
from lbfgs_impl.solvers import SolverConfig

PLUGIN = "lbfgs_impl.commands.explain._probe_plugin"


def probe_tasks(problem: str, n: int, config: SolverConfig) -> list[InstructionTask]:
    """Each probe at K and 2K repetitions, with the solvers' memory size."""
    return [
        InstructionTask(probe_name(kind, multiple), problem, n, config)
        for kind in (EVALUATION, ALGEBRA)
        for multiple in (1, 2)
    ]


def _per_repetition(report: Any, kind: str, problem: str, n: int) -> float | None:
    """Instructions of one probe repetition: (count at 2K - count at K) / K, dispatch cancelled."""
    lo = report.get(probe_name(kind, 1), problem, n)
    hi = report.get(probe_name(kind, 2), problem, n)
    if lo is None or hi is None or not (lo.ok and hi.ok):
        return None
    return (hi.median - lo.median) / PROBE_REPEATS


def measure_callgrind(
    problem: str,
    n: int,
    solvers: list[str],
    config: SolverConfig,
    *,
    top: int,
    dump_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    cpus: list[int] | None = None,
) -> dict[str, Any]:
    """Count one solve per solver and the probes under callgrind, keeping the dumps in ``dump_dir``.

    Returns ``{"skipped": reason}`` when valgrind or a C compiler is missing, else
    ``{"meta", "solvers": {name: {...}}, "floor": {...}, "errors"}`` where each solver
    has its counted ``n_iter``/``n_fev``, ``total`` and ``net`` (without the scheduler),
    ``per_iteration`` (instructions by category), ``top`` functions and its ``floor``.
    """
    reason = unavailable_reason()
    if reason is not None:
        return {"skipped": f"instruction counts unavailable: {reason}"}
    tasks = [InstructionTask(s, problem, n, config) for s in solvers]
    report = measure_instructions(
        [*tasks, *probe_tasks(problem, n, config)],
        repeats=1,
        cpus=cpus,
        plugins=[PLUGIN],
        progress=progress,
        keep_dumps=dump_dir,
    )
    if report.skipped:
        return {"skipped": f"instruction counts unavailable: {report.skipped}"}
    errors = {key: c.errors for key, c in report.counts.items() if c.errors}
    floor = {
        "evaluation": _per_repetition(report, EVALUATION, problem, n),
        "algebra": _per_repetition(report, ALGEBRA, problem, n),
        "probe_repetitions": [PROBE_REPEATS, 2 * PROBE_REPEATS],
    }
    by_task = {d.task: d for d in kept_dumps(dump_dir)}
    out: dict[str, Any] = {}
    for task in tasks:
        dump = by_task.get(task.key)
        if dump is None:
            continue
        out[task.solver] = _solver_part(dump, top, floor)
    return {"meta": report.meta, "solvers": out, "floor": floor, "errors": errors}


def _solver_part(dump: Any, top: int, floor: dict[str, Any]) -> dict[str, Any]:
    att = attribute(dump.path.read_text(encoding="utf-8", errors="replace"), top=top)
    iters = max(int(dump.result["n_iter"]), 1)
    evals = int(dump.result["n_fev"]) / iters
    net = att.total - att.by_category["scheduler"]
    part: dict[str, Any] = {
        "n_iter": dump.result["n_iter"],
        "n_fev": dump.result["n_fev"],
        "dump": str(dump.path),
        "total": att.total,
        "net": net,
        "per_iteration": {k: v / iters for k, v in att.by_category.items()},
        "net_per_iteration": net / iters,
        "shares_of_net": {k: v / net for k, v in att.by_category.items() if k != "scheduler"} if net else {},
        "top": att.to_dict()["top"],
    }
    if floor["evaluation"] is not None and floor["algebra"] is not None:
        per_iter_floor = evals * floor["evaluation"] + floor["algebra"]
        part["floor"] = {
            "evaluations_per_iteration": evals,
            "per_iteration": per_iter_floor,
            "times_floor": (net / iters) / per_iter_floor if per_iter_floor > 0 else None,
        }
    return part
