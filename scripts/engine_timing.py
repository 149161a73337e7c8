"""Time the counting engine on a set of the profile's tasks: CPU seconds per task, counts, load.

    python scripts/engine_timing.py OUT.json [--grid quick|mgh|perf-quick] [--solvers a,b] [--limit N]
        [--cpus 0,1] [--repeats 1] [--scheduler none|local|ADDRESS]

The tasks are those of ``lbfgs-bench profile --instructions`` (every solver on every problem of
the grid at its standard size, ``maxiter=1000``), taken round-robin over the solvers when
``--limit`` keeps a subset, so every solver is represented; ``--grid perf-quick``: those of
``pytest perf --perf-instructions`` on its quick grid (the seed variants on each quick case).
Recorded: the wall time, the CPU time of the counting processes (valgrind, the native builders:
less sensitive to other work on the machine than the wall time, never independent of it), the
load average before and after, and every task's counts, iterations and errors. ``OUT.json`` is
written once the run ends.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from lbfgs_impl.cases import QUICK_CASES
from lbfgs_impl.commands.profile.runner import QUICK_PROBLEMS
from lbfgs_impl.measure.cluster import count_instructions
from lbfgs_impl.measure.environment import collect_meta
from lbfgs_impl.measure.instructions import InstructionTask
from lbfgs_impl.outputs import write_json_atomic
from lbfgs_impl.problems import make_problem, mgh
from lbfgs_impl.solvers import SEED_SOLVERS, SolverConfig, solver_names

GRIDS = {"quick": QUICK_PROBLEMS, "mgh": tuple(mgh.STANDARD_SET), "perf-quick": ()}


def perf_quick_tasks(solvers: list[str] | None) -> list[InstructionTask]:
    """The tasks ``pytest perf --perf-instructions`` counts on its quick grid: every case of
    :data:`lbfgs_impl.cases.QUICK_CASES` with each seed variant (or ``solvers``), the case's config."""
    return [
        InstructionTask(s, case.problem, case.n, case.config())
        for case in QUICK_CASES
        for s in solvers or SEED_SOLVERS
    ]


def tasks_for(grid: str, solvers: list[str], limit: int | None) -> list[InstructionTask]:
    if grid == "perf-quick":
        return perf_quick_tasks(solvers)[:limit] if limit else perf_quick_tasks(solvers)
    config = SolverConfig(maxiter=1000)
    # as the profile counts them: its rows have the evaluations, its builders do not count them again
    by_solver = [
        [InstructionTask(s, p, make_problem(p).n, config, evaluations=False) for p in GRIDS[grid]]
        for s in solvers
    ]
    tasks = [t for row in zip(*by_solver, strict=True) for t in row]  # round-robin over the solvers
    return tasks[:limit] if limit else tasks


def command_of(argv: list[str]) -> str:
    """The command that ran, as a shell reads it back (an argument with a space stays one argument)."""
    return "python scripts/engine_timing.py " + shlex.join(argv)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="quick")
    parser.add_argument("--solvers", help=f"comma-separated subset of: {', '.join(solver_names())}")
    parser.add_argument("--limit", type=int, help="only the first N tasks")
    parser.add_argument("--cpus", help="CPUs for the counting workers (default: all this process may use)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--scheduler", default="none", help="none (the built-in pool), local or an address")
    args = parser.parse_args(argv)
    solvers = (
        args.solvers.split(",") if args.solvers else None if args.grid == "perf-quick" else solver_names()
    )
    cpus = [int(c) for c in args.cpus.split(",")] if args.cpus else sorted(os.sched_getaffinity(0))
    tasks = tasks_for(args.grid, solvers, args.limit)
    print(f"{len(tasks)} task(s) x {args.repeats} on CPUs {cpus}, scheduler {args.scheduler}", flush=True)
    load_before = os.getloadavg()
    cpu0, t0 = children_cpu_s(), time.monotonic()
    report = count_instructions(tasks, repeats=args.repeats, cpus=cpus, scheduler=args.scheduler)
    wall, cpu = time.monotonic() - t0, children_cpu_s() - cpu0
    doc: dict[str, Any] = {
        "command": command_of(argv if argv is not None else sys.argv[1:]),
        "grid": args.grid,
        "tasks": [t.key for t in tasks],
        "cpus": cpus,
        "repeats": args.repeats,
        "scheduler": args.scheduler,
        "machine": {**collect_meta(), "node": platform.node()},
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_s_per_sample": round(cpu / max(1, len(tasks) * args.repeats), 2),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "skipped": report.skipped,
        "meta": report.meta,
        "results": [c.to_dict() for c in report.counts.values()],
    }
    write_json_atomic(Path(args.out), doc)
    errors = sum(bool(c.errors) for c in report.counts.values())
    per = doc["cpu_s_per_sample"]
    print(f"{wall:.0f} s wall, {cpu:.0f} s CPU ({per} s a sample), {errors} task(s) with errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
