"""The callgrind part of ``explain``: one counted solve per solver, by category, and the floor's probes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.explain.probes import ALGEBRA, EVALUATION, PROBE_REPEATS, probe_name
from lbfgs_impl.measure.attribution import attribute, kept_dumps
from lbfgs_impl.measure.callgrind import kernel_calls, thunk_calls
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


#: the categories that are arithmetic: code XLA generated for the kernels, and the precompiled library
#: kernels it calls instead (:data:`lbfgs_impl.measure.attribution.CATEGORIES`). What a probe's loop
#: costs besides (the runtime running its thunks one by one, the copies of its loop-carried state,
#: memcpy in libc) is left out: the floor is the arithmetic, not the probe's own dispatch.
ARITHMETIC = ("xla_generated", "xla_kernels")
#: a solver's own arithmetic: the same, and the compiled numerical code SciPy's solver runs instead
#: (its Fortran L-BFGS-B and BLAS); zero for the solvers that run inside XLA
SOLVER_ARITHMETIC = (*ARITHMETIC, "scipy_lbfgsb", "blas_lapack")


def arithmetic(by_category: dict[str, int | float], keys: tuple[str, ...] = ARITHMETIC) -> float:
    """The instructions of ``keys`` in one dump's (or one iteration's) counts by category."""
    return float(sum(by_category.get(k, 0) for k in keys))


def _per_repetition(dumps: dict[str, Any], kind: str, problem: str, n: int, config: SolverConfig) -> dict:
    """One probe repetition: (count at 2K - count at K) / K, of the arithmetic (``instructions``) and of
    everything callgrind counted but the scheduler (``whole``); anything outside the repeated loop cancels."""
    lo = dumps.get(InstructionTask(probe_name(kind, 1), problem, n, config).key)
    hi = dumps.get(InstructionTask(probe_name(kind, 2), problem, n, config).key)
    if lo is None or hi is None or "error" in lo.result or "error" in hi.result:
        return {"instructions": None, "whole": None, "kernels": None}
    texts = [d.path.read_text(encoding="utf-8", errors="replace") for d in (lo, hi)]
    a, b = (attribute(text, top=0) for text in texts)
    return {
        "instructions": (arithmetic(b.by_category) - arithmetic(a.by_category)) / PROBE_REPEATS,
        "kernels": (kernel_calls(texts[1]) - kernel_calls(texts[0])) / PROBE_REPEATS,
        "whole": ((b.total - b.by_category["scheduler"]) - (a.total - a.by_category["scheduler"]))
        / PROBE_REPEATS,
    }


def floor_of(dumps: dict[str, Any], problem: str, n: int, config: SolverConfig) -> dict[str, Any]:
    """The floor from the probes' kept dumps (task key -> :class:`~lbfgs_impl.measure.attribution.KeptDump`).

    ``evaluation``/``algebra``: the arithmetic of one repetition (None where a probe failed);
    ``evaluation_whole``/``algebra_whole``: everything one repetition cost, the probe's dispatch and
    copies included (what the floor was before it counted the arithmetic only);
    ``evaluation_kernels``/``algebra_kernels``: the kernels XLA executed per repetition (counted).
    """
    evaluation = _per_repetition(dumps, EVALUATION, problem, n, config)
    algebra = _per_repetition(dumps, ALGEBRA, problem, n, config)
    return {
        "evaluation": evaluation["instructions"],
        "algebra": algebra["instructions"],
        "evaluation_whole": evaluation["whole"],
        "algebra_whole": algebra["whole"],
        "evaluation_kernels": evaluation["kernels"],
        "algebra_kernels": algebra["kernels"],
        "counts": "arithmetic: " + " + ".join(ARITHMETIC),
        "probe_repetitions": [PROBE_REPEATS, 2 * PROBE_REPEATS],
    }


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
    ``per_iteration`` (instructions by category), ``top`` functions, the thunks XLA executed
    (``thunks_counted`` by class, ``kernels_counted_per_iteration``) and its ``floor``.
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
    by_task = {d.task: d for d in kept_dumps(dump_dir)}
    floor = floor_of(by_task, problem, n, config)
    out: dict[str, Any] = {}
    for task in tasks:
        dump = by_task.get(task.key)
        if dump is None or "error" in dump.result:  # a failed child: its error is in ``errors``
            if dump is not None and not errors.get(task.key):
                errors[task.key] = [str(dump.result["error"])]
            continue
        try:
            out[task.solver] = _solver_part(dump, top, floor)
        except Exception as exc:  # a dump that cannot be read sinks this solver only
            errors.setdefault(task.key, []).append(f"reading its dump: {type(exc).__name__}: {exc}")
    for task in tasks:
        if task.solver not in out and not errors.get(task.key):
            errors[task.key] = ["no dump was kept for this solve"]
    return {"meta": report.meta, "solvers": out, "floor": floor, "errors": errors}


def _solver_part(dump: Any, top: int, floor: dict[str, Any]) -> dict[str, Any]:
    text = dump.path.read_text(encoding="utf-8", errors="replace")
    att = attribute(text, top=top)
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
        # every kernel XLA executed in the solve (thunk Execute calls): exact, branches and passes as run
        "thunks_counted": thunk_calls(text),
        "kernels_counted_per_iteration": kernel_calls(text) / iters,
    }
    if floor["evaluation"] is not None and floor["algebra"] is not None:
        per_iter_floor = evals * floor["evaluation"] + floor["algebra"]
        own = arithmetic(part["per_iteration"], SOLVER_ARITHMETIC)
        part["floor"] = {
            "evaluations_per_iteration": evals,
            "per_iteration": per_iter_floor,
            "times_floor": (net / iters) / per_iter_floor if per_iter_floor > 0 else None,
            "arithmetic_per_iteration": own,
            "arithmetic_times_floor": own / per_iter_floor if per_iter_floor > 0 else None,
        }
    return part
