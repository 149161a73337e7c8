"""The counting engine: one :class:`CountingWorker` per CPU, used by the built-in pool and by Dask.

A worker holds two long-lived processes:

* a **builder** (native, :mod:`lbfgs_impl.measure._builder`) that compiles each task's solve for
  valgrind's instruction set (:data:`lbfgs_impl.measure.native_aot.TARGET_ISA`), serializes the
  executables and runs the solve once natively (where it ends, how long it took);
* a **counter** (under callgrind, :mod:`lbfgs_impl.measure._counter`) that imported JAX and started
  its backend once, then for each task loads the executables (it compiles nothing), warms the solve
  up and counts one run between client requests.

Start-up (importing JAX under valgrind, starting its backend) is paid once per worker, not per
task. No two samples of one task come from one counter process: a task seen before starts a fresh
counter first, so repeats are counted in different processes. A process that dies is restarted
for the next task; a task that runs past its limit (:func:`task_limit_s`, scaled by the native
solve time) is recorded as such and its counter restarted. Every sample carries the environment
of the process that counted it (:func:`sample_environment`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lbfgs_impl.measure.callgrind import read_dump_file
from lbfgs_impl.measure.native_aot import NATIVE_XLA_FLAGS, TARGET_ISA
from lbfgs_impl.measure.processes import die_with_parent, kill_process_group
from lbfgs_impl.measure.valgrind_tools import _aslr_off_prefix, valgrind_version

#: The counted solve's executables and what the engine records with every count.
ENGINE = f"native-aot:{TARGET_ISA}"

#: The release of one execution's closure by XLA:CPU's runtime (absl's manager of the
#: ``AnyInvocable`` that ``CpuPjRtRawLoadedExecutable::Execute`` hands its thread pool), as a
#: callgrind function pattern: its cost is not counted (:data:`VALGRIND_FLAGS`).
RELEASE_FUNCTION = "*RemoteManagerNontrivial<xla::CpuPjRtRawLoadedExecutable::Execute*"

#: Instrumentation off until the counted call: measured against instrumentation on from the start
#: with only collection switched, the start-up under full instrumentation cost more than the
#: translations each task makes again when instrumentation is switched on.
#:
#: Collection is switched off inside :data:`RELEASE_FUNCTION`, the release of an execution's closure
#: by XLA's runtime (its buffer table, ~28 k instructions on logistic-100, half of it in glibc's
#: allocator): the pool thread that ran the counted solve releases it inside the counted region in
#: some processes and not in others, and neither a pause inside the region nor an execution before
#: it settles which (measured on optax_while logistic-100: 2 of 8 fresh processes 3,892 k, 6 of 8
#: 3,877-3,879 k; with the release left out, 3,878.3-3,879.9 k in 8 of 8). ``--toggle-collect``
#: switches ``--collect-atstart`` off, so ``--collect-atstart=yes`` must come after it.
VALGRIND_FLAGS = (
    "--tool=callgrind", "--instr-atstart=no", "--separate-threads=no", "--dump-instr=no",
    f"--toggle-collect={RELEASE_FUNCTION}", "--collect-atstart=yes",
)  # fmt: skip

#: The environment every counted and building process gets on top of :data:`KEPT_ENV`.
FIXED_ENV = {
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "JAX_CPU_ENABLE_ASYNC_DISPATCH": "false",
    "JAX_ENABLE_COMPILATION_CACHE": "false",
    "JAX_PLATFORMS": "cpu",
}

#: The variables of the caller's environment a counted or building process keeps. Every other one is
#: left out: the Dask Nanny's ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``, ``LD_PRELOAD``, the
#: caller's ``JAX_*``/``XLA_*`` (the suite sets its own, :data:`FIXED_ENV`), and the size of the
#: environment itself, which every ``getenv`` walks.
KEPT_ENV = re.compile(
    r"^(PATH|HOME|LANG|LC_ALL|TMPDIR|PYTHONPATH|PYTHONHOME|VIRTUAL_ENV|VALGRIND_LIB|CC|LBFGS_BENCH_\w+)$"
)
#: Caller variables that would change a count; named in the counts' metadata when they were left out.
WATCHED_ENV = re.compile(r"^(MALLOC_\w*|GLIBC_TUNABLES|LD_PRELOAD|LD_LIBRARY_PATH|JAX_\w+|XLA_\w+)$")

#: How long the native build of one task may take.
BUILD_LIMIT_S = 600.0
#: How long a worker's processes may take to start (importing JAX under valgrind is the slow part).
START_LIMIT_S = 900.0


def counting_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment reduced to :data:`KEPT_ENV`, with :data:`FIXED_ENV` (and ``extra``) on top."""
    return {**{k: v for k, v in os.environ.items() if KEPT_ENV.match(k)}, **FIXED_ENV, **(extra or {})}


def ignored_env() -> list[str]:
    """The caller's variables that could change a count and that the counted processes do not get."""
    return sorted(k for k in os.environ if WATCHED_ENV.match(k) and os.environ[k] != FIXED_ENV.get(k))


def task_limit_s(native_run_s: float | None, compile: bool) -> float:
    """How long counting one task may take: fixed start-up work plus 400x the native solve (callgrind
    runs code ~50-100x slower, and the solve runs three times), plus ten minutes when the compile is
    counted (it runs under valgrind)."""
    return 120.0 + 400.0 * (native_run_s or 1.0) + (600.0 if compile else 0.0)


def engine_meta(compile: bool) -> dict[str, Any]:
    """What every count's metadata says of how it was taken (the gate compares counts of one engine)."""
    counted = "the solve, from executables compiled natively for the target and loaded"
    if compile:
        counted += "; trace+lower+compile counted in the counted process, for valgrind's CPU"
    return {
        "engine": ENGINE, "target_isa": TARGET_ISA, "counted": counted, "build_xla_flags": NATIVE_XLA_FLAGS
    }  # fmt: skip


class WorkerDied(RuntimeError):
    """A worker process ended or could not start; the message says which, with its log's last lines."""


@dataclass
class _Proc:
    proc: subprocess.Popen[str]
    log: IO[str]
    log_path: Path
    counted: set[str] = field(default_factory=set)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def send(self, doc: dict[str, Any]) -> None:
        try:
            self.proc.stdin.write(json.dumps(doc) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # noticed by the wait that follows, with the log

    def end(self) -> None:
        kill_process_group(self.proc)
        self.proc.wait()
        self.log.close()


def _wait_file(path: Path, proc: _Proc, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if not proc.alive():
            if path.exists():
                return
            raise WorkerDied(f"the {what} ended (status {proc.proc.returncode}); its log ends: {proc.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {what} took more than {limit_s:.0f} s")
        time.sleep(0.02)


class CountingWorker:
    """A builder and a counter for one CPU (see the module docstring); not thread-safe.

    Args:
      cpu: the CPU both processes are pinned to (None: not pinned).
      shim: the client-request helper (:func:`lbfgs_impl.measure.valgrind_tools.build_shim`).
      workdir: a folder of its own (executables, results, dumps, logs).
      compile: also count trace+lower+compile in the counted process.
      plugins: modules both processes import first (for example one that registers a solver).
      keep: a folder to keep each sample's callgrind dumps and result in (``jobs.json`` lists them;
        :func:`lbfgs_impl.measure.attribution.kept_dumps` reads it).
    """

    def __init__(
        self,
        cpu: int | None,
        shim: Path,
        workdir: Path,
        compile: bool = False,
        plugins: tuple[str, ...] = (),
        keep: Path | None = None,
    ):
        self.cpu, self.shim, self.workdir, self.compile, self.plugins = cpu, shim, workdir, compile, plugins
        self.keep = keep
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.builder: _Proc | None = None
        self.counter: _Proc | None = None
        self.environment: dict[str, Any] | None = None
        self.restarts: list[str] = []
        self.closed = False
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counting-worker")
        self._seq = 0
        self._builds: dict[str, Path] = {}
        self.aslr = _aslr_off_prefix()
        self.valgrind = valgrind_version()

    # -------------------------------------------------------------- processes

    def _popen(self, name: str, cmd: list[str], env: dict[str, str]) -> _Proc:
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "w")  # noqa: SIM115 (closed by _Proc.end)
        cpu, parent = self.cpu, os.getpid()

        def prepare() -> None:  # in the child, before it runs anything
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            die_with_parent(parent)

        # Started from the worker's own long-lived thread: Linux sends PR_SET_PDEATHSIG when the *thread*
        # that started a child ends, and the caller may be a short-lived one (a plugin's set-up thread).
        proc = self._spawner.submit(
            subprocess.Popen, cmd, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, preexec_fn=prepare,
        ).result()  # fmt: skip
        return _Proc(proc, log, log_path)

    def _start_builder(self) -> None:
        env = counting_env({"XLA_FLAGS": NATIVE_XLA_FLAGS})
        cmd = [sys.executable, "-m", "lbfgs_impl.measure._builder", *[f"--plugin={p}" for p in self.plugins]]
        self.builder = self._popen("builder", cmd, env)
        self._builds.clear()

    def _start_counter(self) -> None:
        self._seq += 1
        cdir = self.workdir / f"counter{self._seq}"
        cdir.mkdir()
        cmd = [
            *self.aslr, "valgrind", *VALGRIND_FLAGS, f"--callgrind-out-file={cdir}/callgrind.%p",
            sys.executable, "-m", "lbfgs_impl.measure._counter", str(self.shim), str(cdir),
            *[f"--plugin={p}" for p in self.plugins],
        ]  # fmt: skip
        self.counter = self._popen(f"counter{self._seq}", cmd, counting_env())
        self.counter_dir = cdir
        _wait_file(cdir / "ready.json", self.counter, START_LIMIT_S, "counting process")
        env = json.loads((cdir / "ready.json").read_text())
        self.environment = {
            **env, "valgrind": self.valgrind, "valgrind_flags": list(VALGRIND_FLAGS), "engine": ENGINE,
            "aslr_disabled": bool(self.aslr),
        }  # fmt: skip

    def _ensure(self) -> None:
        if self.closed:  # ended from another thread (a plugin's teardown): start nothing again
            raise WorkerDied("the counting worker was closed")
        if self.builder is None or not self.builder.alive():
            if self.builder is not None:
                self.restarts.append(f"builder ended (status {self.builder.proc.returncode}): restarted")
                self.builder.end()
            self._start_builder()
        if self.counter is None or not self.counter.alive():
            if self.counter is not None:
                self.restarts.append(f"counter ended (status {self.counter.proc.returncode}): restarted")
                self.counter.end()
            self._start_counter()

    def close(self) -> None:
        self.closed = True
        for p in (self.builder, self.counter):
            if p is not None:
                p.end()
        self.builder = self.counter = None
        self._spawner.shutdown(wait=False)

    def __enter__(self) -> CountingWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- work

    def build(self, key: str, spec: dict[str, Any]) -> str:
        """Ask the builder for ``spec``'s executables ahead of :meth:`count` (it builds while this counts);
        returns the key its build is held under."""
        if self.builder is None or not self.builder.alive() or self.environment is None:
            self._ensure()  # the counter first: the builder checks its executables against its CPU
        key = _build_key(key, spec)
        if key in self._builds:
            return key
        self._seq += 1
        out = self.workdir / f"build{self._seq}.pkl"
        self._builds[key] = out
        cpu = self.environment["cpu_features"]  # type: ignore[index]
        self.builder.send({"spec": spec, "out": str(out), "valgrind_cpu": cpu})  # type: ignore[union-attr]
        return key

    def count(self, key: str, spec: dict[str, Any], repeat: int = 0) -> dict[str, Any]:
        """One sample of a task: ``{"solve", "solve_total", "compile", "n_iter", ...}`` or ``{"error"}``.

        Never raises for a task's failure (a solver that fails, a process that dies or runs past the
        task's limit: each is an ``error``); :class:`WorkerDied` only when a process cannot start.
        """
        self._ensure()
        if key in self.counter.counted:  # type: ignore[union-attr]  (a repeat: in a fresh process)
            self.counter.end()  # type: ignore[union-attr]
            self._start_counter()
        build_key = self.build(key, spec)
        built = self._builds[build_key]
        try:
            _wait_file(built.with_suffix(".json"), self.builder, BUILD_LIMIT_S, "native builder")  # type: ignore[arg-type]
        except (WorkerDied, TimeoutError) as exc:
            self._builds.pop(build_key, None)
            if self.builder is not None:
                self.builder.end()
                self.builder = None
            return {"error": f"build: {exc}"}
        native = json.loads(built.with_suffix(".json").read_text())
        if native.get("error"):
            return {"error": f"native build: {native['error']}"}
        limit = task_limit_s(native.get("native_run_s"), self.compile)
        for attempt in (1, 2):  # a counter that dies mid-task is restarted and counts it once more
            self._seq += 1
            job_id = f"job{self._seq}"
            out = self.counter_dir / f"{job_id}.json"
            counter = self.counter
            assert counter is not None
            counter.counted.add(key)
            job = {"id": job_id, "spec": spec, "aot": str(built), "compile": self.compile, "out": str(out)}
            counter.send(job)
            try:
                _wait_file(out, counter, limit, "counting process")
                break
            except TimeoutError as exc:
                counter.end()
                self.counter = None
                return {"error": f"{exc} (the task's limit)"}
            except WorkerDied as exc:
                self.restarts.append(f"counter ended while counting {key} (status {counter.proc.returncode})")
                counter.end()
                self.counter = None
                if attempt == 2 or self.closed:
                    return {"error": str(exc)}
                self._start_counter()
        doc = json.loads(out.read_text())
        if doc.get("error"):
            return {"error": doc["error"]}
        if self.keep is not None:
            self._keep(job_id, key, repeat, out)
        return self._dumps(job_id, doc, native)

    def _keep(self, job_id: str, key: str, repeat: int, result: Path) -> None:
        self.keep.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        index = self.keep / "jobs.json"  # type: ignore[operator]
        jobs = json.loads(index.read_text()) if index.exists() else []
        index.write_text(json.dumps([*jobs, {"id": job_id, "task": key, "repeat": repeat}]))
        shutil.copy(result, self.keep / result.name)  # type: ignore[operator]
        for path in self.counter_dir.glob("callgrind.*"):
            shutil.copy(path, self.keep / f"{path.name}-{job_id}")  # type: ignore[operator]

    def _dumps(self, job_id: str, doc: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
        env = {**self.environment, "target_features": native.get("target_features")}  # type: ignore[dict-item]
        extra = {"environment": env, "native_run_s": native.get("native_run_s"),
                 "host": platform.node(), "cpu": self.cpu}  # fmt: skip
        extra["seconds"] = {**doc.get("seconds", {}), "build_s": native.get("build_s")}
        extra["compiled_here"] = doc.get("compiled_here")
        return read_sample(self.counter_dir, job_id, doc, extra)


def _build_key(key: str, spec: dict[str, Any]) -> str:
    """A build is reused only for the same task built the same way (a build without the evaluation
    count has none to give a task that asks for it)."""
    return f"{key}|evaluations={spec.get('evaluations', True)}"


def read_sample(
    directory: Path, job_id: str, result: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """One sample from the counted process's ``result`` and its dumps in ``directory`` (removed once
    read): the solve net of XLA's thread-pool scheduler, the total beside it, the compile's when counted;
    an ``error`` when the solve's dump is missing or the scheduler filter no longer matches."""
    found = {}
    for path in directory.glob("callgrind.*"):
        dump = read_dump_file(path)
        if dump is not None and dump[0].startswith(f"{job_id}:"):
            found[dump[0].split(":", 1)[1]] = dump[1]
            path.unlink()
    solve = found.get("solve")
    if solve is None or solve.problem:
        return {"error": solve.problem if solve is not None else "callgrind wrote no dump for the solve"}
    sample = {
        "solve": solve.net, "solve_total": solve.total, "solve_allocator": solve.allocator,
        "n_iter": result["n_iter"], "n_fev": result["n_fev"],
        "converged": result["converged"], "same_path_as_native": result.get("same_path_as_native"), **extra,
    }  # fmt: skip
    if "compile" in found:
        sample["compile"] = found["compile"].net
    return sample


def end_on_signal() -> None:
    """Turn SIGTERM into SystemExit in the measuring process, so its workers are ended on the way out."""
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
