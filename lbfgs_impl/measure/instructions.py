"""Instruction counts under valgrind's callgrind: figures that do not depend on the machine's load.

A wall-clock median moves between processes on a shared machine, and a hosted
CI runner changes hardware from night to night. The number of
instructions a solve executes does neither. This module counts them the way
CodSpeed's simulation mode and iai-callgrind do, with the engine of
:mod:`lbfgs_impl.measure.engine`:

* compile outside, count inside: each task's solve is compiled natively for the
  instruction set valgrind emulates (:data:`lbfgs_impl.measure.native_aot.TARGET_ISA`),
  serialized, and loaded by the counted process, which compiles nothing (XLA compiles
  ~5-8x slower under valgrind); with ``compile=True`` trace+lower+compile is counted too,
  in the counted process;
* start-up paid once per worker: one long-lived counted process per CPU imported JAX and
  started its backend once, then counts its tasks in sequence, instrumentation switched on
  with callgrind *client requests* exactly around one ``prepared.run()`` after two
  uninstrumented warm-up runs; no two samples of one task come from one process;
* the environment is fixed (:data:`lbfgs_impl.measure.engine.FIXED_ENV`, everything else of
  the caller's left out), ASLR off (``setarch -R`` where it works), OpenBLAS and XLA
  single-threaded, JAX's async dispatch off, each worker pinned to one CPU, ``gc`` off
  around the measured call; each sample records the versions that change a count, read
  in the process that counted it, and samples of different environments are never merged;
* the self cost of XLA's thread-pool scheduler is subtracted from the compared figure
  and kept apart (:data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`).

Workers run in parallel, one per CPU: instruction counts do not care.
The client requests live in a small C helper (``_native/callgrind_shim.c``)
built with the system C compiler on first use.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from lbfgs_impl.measure.engine import (
    FIXED_ENV,
    VALGRIND_FLAGS,
    engine_meta,
    ignored_env,
)
from lbfgs_impl.measure.pool import Pool
from lbfgs_impl.measure.valgrind_tools import (  # noqa: F401  (re-exported)
    SHIM_SOURCE,
    InstructionsUnavailable,
    _aslr_off_prefix,
    build_shim,
    unavailable_reason,
    valgrind_version,
)
from lbfgs_impl.solvers import SolverConfig


class InstructionTask(NamedTuple):
    """One thing to count: ``solver`` on ``problem`` of size ``n`` under ``config``.

    ``evaluations=False``: the samples' ``n_fev`` is not counted (None), for a caller that has it
    already; it spares a jitted solve's counting solve, a second compile per task. Not part of
    :attr:`key`: the instructions counted are the same.
    """

    solver: str
    problem: str
    n: int
    config: SolverConfig = SolverConfig()
    evaluations: bool = True

    @property
    def key(self) -> str:
        return f"{self.solver}/{self.problem}-{self.n}"


@dataclass
class InstructionCounts:
    """Counts of one task over ``repeats`` processes.

    Attributes:
      solve: instructions of one complete solve, per process, without the thread
        pool's idle spinning and work stealing (:data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`)
        and glibc's allocator internals (:data:`lbfgs_impl.measure.callgrind.ALLOCATOR_FUNCTIONS`).
      solve_total: the same with them: everything callgrind counted.
      solve_allocator: the allocator internals' part of ``solve_total``, per process.
      compile: instructions of trace+lower+compile, per process (empty unless asked for).
      environment: what the processes of the merged samples reported (:func:`environment_difference`);
        samples of another environment are kept apart in ``other_environments``.
      processes: per sample, where it was counted, how long each step took and how many executables
        the counted process had to compile itself (0 when everything was loaded).
      n_iter, n_fev, converged: what the solve did under valgrind (valgrind
        emulates a CPU without AVX-512, so SciPy's path may differ by an
        iteration from a native run; compare per-iteration figures across
        machines).
    """

    task: InstructionTask
    solve: list[int] = field(default_factory=list)
    solve_total: list[int] = field(default_factory=list)
    compile: list[int] = field(default_factory=list)
    n_iter: list[int] = field(default_factory=list)
    n_fev: list[int] = field(default_factory=list)
    converged: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    environment: dict[str, Any] | None = None
    other_environments: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    solve_allocator: list[int] = field(default_factory=list)

    def add_sample(self, sample: dict[str, Any], repeat: int) -> None:
        """Add one process's sample (:meth:`lbfgs_impl.measure.engine.CountingWorker.count`).

        A sample from another environment than the first one (:func:`environment_difference`) is
        never merged into this median: it is kept in ``other_environments`` and named in ``errors``.
        """
        if sample.get("error"):
            self.errors.append(f"repeat {repeat}: {sample['error']}".splitlines()[0])
            return
        env = sample.get("environment") or {}
        if self.environment is None:
            self.environment = env
        elif why := environment_difference(self.environment, env):
            self.other_environments.append(sample)
            self.errors.append(f"repeat {repeat}: counted in another environment ({why}); not merged")
            return
        self.solve.append(sample["solve"])
        self.solve_total.append(sample["solve_total"])
        self.solve_allocator.append(sample.get("solve_allocator", 0))
        if "compile" in sample:
            self.compile.append(sample["compile"])
        self.n_iter.append(sample["n_iter"])
        self.n_fev.append(sample["n_fev"])
        self.converged.append(sample["converged"])
        self.processes.append({k: sample.get(k) for k in ("host", "cpu", "seconds", "compiled_here")})

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> InstructionCounts:
        """The counts :meth:`to_dict` wrote (a resumed run reads its saved ones back)."""
        task = InstructionTask(doc["solver"], doc["problem"], doc["n"], SolverConfig(**doc["config"]))
        return cls(
            task, list(doc["instructions_samples"]), list(doc["instructions_total_samples"]),
            list(doc["compile_instructions_samples"]), list(doc["n_iter"]), list(doc["n_fev"]),
            list(doc["converged"]), list(doc["errors"]), doc.get("environment"),
            list(doc.get("other_environments") or []), list(doc.get("processes") or []),
            list(doc.get("instructions_allocator_samples") or []),
        )  # fmt: skip

    @property
    def ok(self) -> bool:
        return bool(self.solve)

    @property
    def median(self) -> float:
        return statistics.median(self.solve)

    @property
    def spread(self) -> float:
        """(max - min) / median of the per-process counts: the noise of this figure."""
        return (max(self.solve) - min(self.solve)) / self.median if self.solve else float("nan")

    @property
    def per_iteration(self) -> float | None:
        iters = statistics.median(self.n_iter) if self.n_iter else 0
        return self.median / iters if iters else None

    @property
    def compile_median(self) -> float | None:
        return statistics.median(self.compile) if self.compile else None

    def to_dict(self) -> dict[str, Any]:
        t = self.task
        return {
            "solver": t.solver,
            "problem": t.problem,
            "n": t.n,
            "config": t.config._asdict(),
            "instructions": self.median if self.ok else None,
            "instructions_per_iteration": self.per_iteration if self.ok else None,
            "instructions_spread": self.spread if self.ok else None,
            "instructions_samples": self.solve,
            "instructions_total_samples": self.solve_total,
            "instructions_allocator_samples": self.solve_allocator,
            "compile_instructions": self.compile_median,
            "compile_instructions_samples": self.compile,
            "n_iter": self.n_iter,
            "n_fev": self.n_fev,
            "converged": self.converged,
            "errors": self.errors,
            "environment": self.environment,
            "other_environments": self.other_environments,
            "processes": self.processes,
        }


@dataclass
class InstructionReport:
    """Counts of every task, with how they were taken (or why they were not)."""

    counts: dict[str, InstructionCounts]
    meta: dict[str, Any]
    skipped: str | None = None

    def get(self, solver: str, problem: str, n: int) -> InstructionCounts | None:
        return self.counts.get(InstructionTask(solver, problem, n).key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "skipped": self.skipped,
            "results": [c.to_dict() for c in self.counts.values()],
        }


#: The parts of a sample's environment that change a count; samples that differ in one are never merged.
COUNT_ENVIRONMENT_KEYS = (
    "python", "versions", "glibc", "os_image", "arch", "target_isa", "cpu_features", "valgrind",
    "valgrind_flags", "engine", "target_features",
)  # fmt: skip


def environment_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first count-changing difference between two sample environments (``"jax 0.10.2 vs 0.11.0"``)."""
    for key in COUNT_ENVIRONMENT_KEYS:
        av, bv = a.get(key), b.get(key)
        if key == "versions" and isinstance(av, dict) and isinstance(bv, dict):
            for name in sorted(set(av) | set(bv)):
                if av.get(name) != bv.get(name):
                    return f"{name} {av.get(name)} vs {bv.get(name)}"
        elif av != bv:
            return f"{key} {av} vs {bv}"
    return None


def report_environment(counts: dict[str, InstructionCounts]) -> dict[str, Any]:
    """The counting machines' environment, for the report's metadata and the gate: the fields every
    counted task agrees on, and for a field they do not, every value seen (joined by `` / ``)."""
    seen: dict[str, list[Any]] = {}
    for c in counts.values():
        for env in [c.environment, *(s.get("environment") for s in c.other_environments)]:
            for key, value in (env or {}).items():
                if value not in seen.setdefault(key, []):
                    seen[key].append(value)
    return {k: v[0] if len(v) == 1 else " / ".join(map(str, v)) for k, v in seen.items()}


# ------------------------------------------------------------------ the built-in pool


def base_meta(repeats: int, compile: bool, cpus: Sequence[int], plugins: Sequence[str]) -> dict[str, Any]:
    """What every report says of how its counts were taken, before any was."""
    return {
        "valgrind": valgrind_version(),
        "valgrind_flags": list(VALGRIND_FLAGS),
        "env": dict(FIXED_ENV),
        "caller_env_left_out": ignored_env(),
        "aslr_disabled": bool(_aslr_off_prefix()),
        "repeats": repeats,
        "compile_counted": compile,
        "worker_cpus": list(cpus),
        "plugins": list(plugins),
        **engine_meta(compile),
    }


def fresh_counts(
    tasks: Sequence[InstructionTask], resume: dict[str, InstructionCounts] | None
) -> dict[str, InstructionCounts]:
    """Empty counts for every task, or the saved ones of a resumed run where it has them."""
    return {t.key: (resume or {}).get(t.key) or InstructionCounts(t) for t in tasks}


def ordered_jobs(
    tasks: Sequence[InstructionTask], repeats: int, done: dict[str, InstructionCounts] | None = None
) -> list[tuple[InstructionTask, int]]:
    """(task, repeat) to count, repeat after repeat (a worker's process changes once per round); the
    samples ``done`` already holds (a resumed run) are not counted again."""
    jobs = []
    for r in range(repeats):
        for t in tasks:
            have = done.get(t.key) if done else None
            if have is None or len(have.solve) + len(have.errors) <= r:
                jobs.append((t, r))
    return jobs


def measure_instructions(
    tasks: Sequence[InstructionTask],
    *,
    repeats: int = 3,
    compile: bool = False,
    cpus: Sequence[int] | None = None,
    plugins: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    keep_dumps: str | os.PathLike[str] | None = None,
    on_result: Callable[[InstructionCounts], None] | None = None,
    resume: dict[str, InstructionCounts] | None = None,
) -> InstructionReport:
    """Count the instructions of each task's solve, ``repeats`` processes each, one worker per CPU.

    Args:
      tasks: what to measure.
      repeats: samples per task, each from another process (their spread is reported).
      compile: also count trace+lower+compile (slow: it runs under valgrind).
      cpus: CPUs to run workers on, one each (default: every CPU this process may use).
      plugins: modules the worker processes import first (for example one that registers a solver).
      progress: called with (done, total) as samples come back.
      keep_dumps: a directory to keep each sample's callgrind dump and result in
        (:mod:`lbfgs_impl.measure.attribution` reads them).
      on_result: called with a task's counts so far each time one of its samples comes back
        (serialized: never from two threads at once).
      resume: counts saved by an earlier run of the same tasks; what they hold is not counted again.

    Returns:
      An :class:`InstructionReport`; ``skipped`` holds the reason when valgrind or the helper is
      unavailable (then nothing was run). A task that fails leaves its error in the task's
      ``errors``; it never raises. A worker process that dies is restarted for the next task
      (``meta["worker_restarts"]``).
    """
    if repeats < 1:
        raise ValueError(f"instruction repeats must be >= 1, got {repeats}")
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    meta = base_meta(repeats, compile, cpus, plugins)
    counts = fresh_counts(tasks, resume)
    if meta["valgrind"] is None:
        return InstructionReport(counts, meta, "valgrind is not installed (apt-get install valgrind)")
    jobs = ordered_jobs(tasks, repeats, resume)
    meta["resumed_samples"] = sum(len(c.solve) for c in counts.values()) if resume else 0
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-callgrind-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            shim = build_shim(tmp)
        except InstructionsUnavailable as exc:
            return InstructionReport(counts, meta, str(exc))
        pool = Pool(
            counts, shim, tmp, compile, tuple(plugins), keep_dumps, on_result, progress, jobs, task_spec
        )
        pool.run(cpus)
    restarts, failures = pool.restarts, pool.failures
    if restarts or failures:
        meta["worker_restarts"] = restarts + failures
    meta["environment"] = report_environment(counts)
    if failures and len(failures) == len(cpus) and not any(c.ok for c in counts.values()):
        return InstructionReport(counts, meta, failures[0])
    return InstructionReport(counts, meta)


def task_spec(task: InstructionTask) -> dict[str, Any]:
    return {"solver": task.solver, "problem": task.problem, "n": task.n, "config": task.config._asdict(),
            "evaluations": task.evaluations}  # fmt: skip
