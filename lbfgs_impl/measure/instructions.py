"""Instruction counts under valgrind's callgrind: figures that do not depend on the machine's load.

A wall-clock median moves between processes on a shared machine, and a hosted
CI runner changes hardware from night to night. The number of
instructions a solve executes does neither. This module counts them the way
CodSpeed's simulation mode and iai-callgrind do:

* every (solver, problem) is measured in its own process, forked from a
  "zygote" that imported JAX, Optax and SciPy once under valgrind (import alone
  is slow there) but never started JAX's backend, so each child starts cold;
* the child AOT-compiles and warms the solve up uninstrumented, then switches
  instrumentation on with callgrind *client requests* exactly around one
  ``prepared.run()`` (``callgrind_control`` would act at its next poll point);
* the environment is fixed: ``PYTHONHASHSEED=0``, ASLR off (``setarch -R``
  where it works), OpenBLAS and XLA single-threaded, JAX's async dispatch off,
  each zygote pinned to one CPU (XLA sizes its thread pool from the affinity:
  with a pool per core, idle workers' work-stealing added up to 45% to a count),
  ``gc`` off around the measured call;
* the self cost of XLA's thread-pool scheduler (idle spinning and work
  stealing, whose length depends on how valgrind interleaves threads) is
  subtracted from the compared figure and kept apart
  (:data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`);
* repeats after the first load the compiled executable from JAX's persistent
  cache in a temporary directory (compiling is ~5x slower under valgrind), or in
  ``$JAX_COMPILATION_CACHE_DIR`` when the caller set JAX's own variable (then
  later runs load it too; only the solve is counted, so the count is the same);
* optionally the trace+lower+compile step is counted the same way (then
  without the cache)
  (``compile=True``; ~5x slower than the uninstrumented compile: about a minute
  per JAX solver on the seed case).

Zygotes run in parallel, one per CPU: instruction counts do not care.
The client requests live in a 10-line C helper (``_native/callgrind_shim.c``)
built with the system C compiler on first use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from lbfgs_impl.measure.callgrind import read_dumps
from lbfgs_impl.measure.compile_cache import cache_note, compile_cache_env, counting_cache_dir
from lbfgs_impl.measure.processes import Zygote, die_with_parent, supervise
from lbfgs_impl.solvers import SolverConfig

SHIM_SOURCE = Path(__file__).parent / "_native" / "callgrind_shim.c"

VALGRIND_FLAGS = ("--tool=callgrind", "--instr-atstart=no", "--separate-threads=no", "--dump-instr=no")

#: The environment every measured process gets (on top of the caller's).
FIXED_ENV = {
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "JAX_CPU_ENABLE_ASYNC_DISPATCH": "false",
    "JAX_ENABLE_COMPILATION_CACHE": "false",
}


class InstructionsUnavailable(RuntimeError):
    """valgrind, a C compiler or callgrind's header is missing; the message says which."""


class InstructionTask(NamedTuple):
    """One thing to count: ``solver`` on ``problem`` of size ``n`` under ``config``."""

    solver: str
    problem: str
    n: int
    config: SolverConfig = SolverConfig()

    @property
    def key(self) -> str:
        return f"{self.solver}/{self.problem}-{self.n}"


@dataclass
class InstructionCounts:
    """Counts of one task over ``repeats`` processes.

    Attributes:
      solve: instructions of one complete solve, per process, without the thread
        pool's idle spinning and work stealing (:data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`).
      solve_total: the same with them: everything callgrind counted.
      compile: instructions of trace+lower+compile, per process (empty unless asked for).
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
            "compile_instructions": self.compile_median,
            "compile_instructions_samples": self.compile,
            "n_iter": self.n_iter,
            "n_fev": self.n_fev,
            "converged": self.converged,
            "errors": self.errors,
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


# ------------------------------------------------------------------ tools


def valgrind_version() -> str | None:
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _aslr_off_prefix() -> list[str]:
    """``setarch <arch> -R`` if it works here (containers may forbid personality changes)."""
    exe = shutil.which("setarch")
    if exe is None:
        return []
    cmd = [exe, platform.machine(), "-R"]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True).returncode == 0
    except OSError:
        ok = False
    return cmd if ok else []


def build_shim(directory: str | os.PathLike[str]) -> Path:
    """Compile the client-request helper into ``directory``; :class:`InstructionsUnavailable` if it can't."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise InstructionsUnavailable(
            "instruction counts need a C compiler (cc or gcc) to build their helper"
        )
    digest = hashlib.sha256(SHIM_SOURCE.read_bytes()).hexdigest()[:12]
    out = Path(directory) / f"callgrind_shim-{digest}.so"
    try:
        proc = subprocess.run(
            [cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(SHIM_SOURCE)], capture_output=True, text=True
        )
    except OSError as exc:
        raise InstructionsUnavailable(
            f"could not build the callgrind helper with {cc}: {exc.strerror}"
        ) from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[0]
        raise InstructionsUnavailable(f"could not build the callgrind helper with {cc}: {first}")
    return out


def unavailable_reason() -> str | None:
    """Why instruction counts cannot be taken here, or ``None`` when they can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install valgrind)"
    try:
        with tempfile.TemporaryDirectory(prefix="lbfgs-bench-shim-") as tmp:
            build_shim(tmp)
    except InstructionsUnavailable as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ running


#: a zygote that died is replaced for the jobs it had not run, up to this many times per CPU
MAX_ZYGOTE_RESTARTS = 2


def _partition(items: Sequence[Any], parts: int) -> list[list[Any]]:
    buckets: list[list[Any]] = [[] for _ in range(max(1, parts))]
    for i, item in enumerate(items):
        buckets[i % len(buckets)].append(item)
    return [b for b in buckets if b]


def measure_instructions(
    tasks: Sequence[InstructionTask],
    *,
    repeats: int = 3,
    compile: bool = False,
    cpus: Sequence[int] | None = None,
    plugins: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float = 3600.0,
    keep_dumps: str | os.PathLike[str] | None = None,
) -> InstructionReport:
    """Count the instructions of each task's solve, ``repeats`` processes each.

    Args:
      tasks: what to measure.
      repeats: processes per task (their spread is reported).
      compile: also count trace+lower+compile (slow: ~5x the uninstrumented compile).
      cpus: CPUs to spread the zygotes over, one zygote each (default: every CPU
        this process may use).
      plugins: modules each child imports first (for example one that registers
        a solver).
      progress: called with (done, total) as child processes finish.
      keep_dumps: a directory to copy each zygote's folder into (callgrind dumps,
        ``jobs.json``, per-job results, valgrind log) before the temporary one
        goes; :mod:`lbfgs_impl.measure.attribution` reads them.

    Returns:
      An :class:`InstructionReport`; ``skipped`` holds the reason when valgrind
      or the helper is unavailable (then nothing was run). A child that fails
      leaves its error in the task's ``errors``; it never raises. A zygote that
      dies is replaced on its CPU for the jobs it had not run (at most
      :data:`MAX_ZYGOTE_RESTARTS` times per CPU); ``meta["zygote_restarts"]``
      says so.
    """
    # long function: the zygotes' whole lifecycle (build the shim, start, feed, supervise, collect) in one
    # place; supervise() kills every process group on any path, so no valgrind process outlives it.
    if repeats < 1:
        raise ValueError(f"instruction repeats must be >= 1, got {repeats}")
    version = valgrind_version()
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    aslr = _aslr_off_prefix()
    meta: dict[str, Any] = {
        "valgrind": version,
        "valgrind_flags": list(VALGRIND_FLAGS),
        "env": dict(FIXED_ENV),
        "aslr_disabled": bool(aslr),
        "repeats": repeats,
        "compile_counted": compile,
        "compilation_cache": "off" if compile else cache_note(),
        "zygote_cpus": cpus,
        "plugins": list(plugins),
    }
    counts = {t.key: InstructionCounts(t) for t in tasks}
    if version is None:
        return InstructionReport(counts, meta, "valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-callgrind-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            shim = build_shim(tmp)
        except InstructionsUnavailable as exc:
            return InstructionReport(counts, meta, str(exc))
        jobs = [{"task": t.key, "repeat": r, "spec": _task_spec(t)} for r in range(repeats) for t in tasks]
        for i, job in enumerate(jobs):
            job["id"] = f"job{i}"

        def start(zdir: Path, cpu: int, chunk: list[dict[str, Any]]) -> Zygote:
            zdir.mkdir()
            (zdir / "jobs.json").write_text(json.dumps(chunk))
            cmd = [
                *aslr,
                "valgrind",
                *VALGRIND_FLAGS,
                f"--callgrind-out-file={zdir}/callgrind.%p",
                sys.executable,
                "-m",
                "lbfgs_impl.measure._callgrind_worker",
                str(shim),
                str(zdir),
                *(["--compile"] if compile else []),
                *[f"--plugin={p}" for p in plugins],
            ]
            env = {**os.environ, **FIXED_ENV}
            if not compile:
                env.update(compile_cache_env(counting_cache_dir(tmp / "jax-cache")))
            log = open(zdir / "valgrind.log", "w")  # noqa: SIM115 (closed after the wait below)
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=functools.partial(_pinned_and_tied, cpu, os.getpid()),
                start_new_session=True,  # its forked children die with it (kill_process_group)
            )
            return Zygote(proc, log, zdir, cpu)

        total = len(jobs)
        chunks = zip(cpus, _partition(jobs, len(cpus)), strict=False)
        zygotes, restarts = supervise(
            [(f"zygote{z}", cpu, chunk) for z, (cpu, chunk) in enumerate(chunks)],
            lambda name, cpu, chunk: start(tmp / name, cpu, chunk),
            max_restarts_per_cpu=MAX_ZYGOTE_RESTARTS, deadline=time.monotonic() + timeout_s,
            progress=None if progress is None else lambda done: progress(done, total),
        )  # fmt: skip
        if restarts:
            meta["zygote_restarts"] = restarts
        if progress is not None:
            progress(total, total)
        for zygote in zygotes:
            _collect(zygote.zdir, counts)
            if keep_dumps is not None:
                shutil.copytree(zygote.zdir, Path(keep_dumps) / zygote.zdir.name, dirs_exist_ok=True)
    return InstructionReport(counts, meta)


def _pinned_and_tied(cpu: int, parent: int) -> None:
    """In a zygote before valgrind starts: pinned to ``cpu``, and ended if the measuring process is."""
    os.sched_setaffinity(0, {cpu})
    die_with_parent(parent)


def _task_spec(task: InstructionTask) -> dict[str, Any]:
    return {"solver": task.solver, "problem": task.problem, "n": task.n, "config": task.config._asdict()}


def _collect(zdir: Path, counts: dict[str, InstructionCounts]) -> None:
    dumps = read_dumps(zdir)
    log_tail = (zdir / "valgrind.log").read_text(errors="replace").strip().splitlines()[-3:]
    for job in json.loads((zdir / "jobs.json").read_text()):
        entry = counts[job["task"]]
        result_path = zdir / f"{job['id']}.json"
        if not result_path.exists():
            entry.errors.append(
                f"repeat {job['repeat']}: no result; valgrind log ends: {' | '.join(log_tail)}"
            )
            continue
        result = json.loads(result_path.read_text())
        if result.get("error"):
            entry.errors.append(f"repeat {job['repeat']}: {result['error']}")
            continue
        solve = dumps.get(f"{job['id']}:solve")
        if solve is None or solve.problem:
            why = solve.problem if solve is not None else "callgrind wrote no dump for the solve"
            entry.errors.append(f"repeat {job['repeat']}: {why}")
            continue
        entry.solve.append(solve.net)
        entry.solve_total.append(solve.total)
        if f"{job['id']}:compile" in dumps:
            entry.compile.append(dumps[f"{job['id']}:compile"].net)
        entry.n_iter.append(result["n_iter"])
        entry.n_fev.append(result["n_fev"])
        entry.converged.append(result["converged"])
