"""The README's "Measured here" for the Dask path: one small instruction grid, three ways.

Serial (the built-in pool on one CPU), the embedded LocalCluster of 2 workers, and the
built-in pool on 2 CPUs, each from a cold start; prints wall time, tasks per minute and
errors, and writes every count to the JSON path given (default: dask_small_grid.json).

    nice -n 10 python scripts/dask_small_grid.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
import time

from lbfgs_impl.measure.cluster import count_instructions
from lbfgs_impl.measure.instructions import InstructionTask
from lbfgs_impl.problems import make_problem

PROBLEMS = ("mgh_rosenbrock", "mgh_beale", "mgh_helical_valley")
SOLVERS = ("scipy", "optax_while")
WAYS = [
    ("serial (pool, 1 CPU)", "none", [0]),
    ("embedded LocalCluster (2 workers)", "local", [0, 1]),
    ("pool (2 CPUs)", "none", [0, 1]),
]

if __name__ == "__main__":  # the LocalCluster's workers are spawned: they re-import this file
    path = sys.argv[1] if len(sys.argv) > 1 else "dask_small_grid.json"
    tasks = [InstructionTask(s, p, make_problem(p).n) for p in PROBLEMS for s in SOLVERS]
    out = {}
    for label, scheduler, cpus in WAYS:
        t0 = time.time()
        report = count_instructions(tasks, repeats=1, scheduler=scheduler, cpus=cpus)
        wall = time.time() - t0
        out[label] = {
            "wall_s": wall,
            "tasks": len(tasks),
            "tasks_per_min": 60 * len(tasks) / wall,
            "counts": {k: c.solve for k, c in report.counts.items()},
            "errors": {k: c.errors for k, c in report.counts.items() if c.errors},
            "scheduler": report.meta.get("scheduler"),
        }
        rate = 60 * len(tasks) / wall
        print(f"{label}: {wall:.0f} s, {rate:.2f} tasks/min, errors: {out[label]['errors']}")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
