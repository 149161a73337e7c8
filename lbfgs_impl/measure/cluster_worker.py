"""The worker side of :mod:`lbfgs_impl.measure.cluster`: one callgrind zygote per Dask worker.

:class:`ZygotePlugin` is registered on every worker of the cluster for one
measurement. Its ``setup`` builds the callgrind helper in the worker's temporary
directory, claims a CPU and starts :mod:`lbfgs_impl.measure._callgrind_server`
under valgrind, pinned to that CPU and in its own process group: the import of
JAX under valgrind (~10 s) is paid once per worker, while the tasks queue.
:func:`count_one` (the Dask task) sends one job to the zygote, waits for it and
reads the child's dumps with the same code as the batch path
(:func:`lbfgs_impl.measure.instructions._collect`). ``teardown`` kills the
zygote's process group; a worker that is killed outright takes its zygote with
it (``PR_SET_PDEATHSIG``), and the zygote's children die with the zygote.

CPUs: the embedded cluster passes the CPUs the caller may use; a worker of a
cluster started by hand uses its own affinity. Either way each worker claims
the first CPU no other worker on the machine holds (a ``flock`` on
``$TMPDIR/lbfgs-bench-cpu<N>.lock``, released when the worker ends), so two
workers on one machine never share a core unless there are more workers than
CPUs (then they share, and the counts do not care).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lbfgs_impl.measure.compile_cache import compile_cache_env, counting_cache_dir, user_cache_dir
from lbfgs_impl.measure.environment import cpu_model
from lbfgs_impl.measure.instructions import (
    FIXED_ENV,
    VALGRIND_FLAGS,
    InstructionCounts,
    InstructionsUnavailable,
    InstructionTask,
    _aslr_off_prefix,
    _collect,
    _task_spec,
    build_shim,
    valgrind_version,
)
from lbfgs_impl.measure.processes import die_with_parent

try:
    from distributed import WorkerPlugin, get_worker
except ImportError:  # the local pool still runs without Dask
    WorkerPlugin = object  # type: ignore[assignment,misc]
    get_worker = None  # type: ignore[assignment]

PLUGIN_NAME = "lbfgs-bench-zygote"


class ZygoteDied(RuntimeError):
    """The worker's zygote ended; the task is retried (elsewhere, if the worker went with it)."""


def claim_cpu(cpus: Sequence[int] | None) -> tuple[int, IO[str] | None]:
    """The first of ``cpus`` (default: this process's affinity) no other worker holds, and its lock."""
    candidates = sorted(cpus) if cpus else sorted(os.sched_getaffinity(0))
    for cpu in candidates:
        handle = open(Path(tempfile.gettempdir()) / f"lbfgs-bench-cpu{cpu}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return cpu, handle
    return candidates[os.getpid() % len(candidates)], None


def machine() -> dict[str, Any]:
    """Where a result was taken: host, CPU model, valgrind."""
    return {"host": platform.node(), "cpu": cpu_model(), "valgrind": valgrind_version()}


class ZygotePlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Keeps one callgrind zygote per worker for one measurement (see the module docstring).

    Args:
      compile: the zygote counts trace+lower+compile too (then JAX's cache is off).
      plugins: modules each measured child imports first.
      cpus: CPUs to claim from (default: the worker's own affinity).
      token: names JAX's compilation cache, shared by the workers of one machine for one
        measurement (``$TMPDIR/lbfgs-bench-jax-cache-<token>``), as the built-in pool shares
        it: a repeat on another worker loads the executable instead of compiling it again
        (compiling is ~5x slower under valgrind). Without it, each worker has its own.
    """

    def __init__(
        self,
        compile: bool,
        plugins: Sequence[str] = (),
        cpus: Sequence[int] | None = None,
        token: str | None = None,
    ):
        self.compile, self.plugins, self.token = compile, tuple(plugins), token
        self.cpus = tuple(cpus) if cpus else None
        self.unavailable: str | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.cpu: int | None = None
        self._lock_file: IO[str] | None = None
        self._write_lock = threading.Lock()
        self._seq = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"compile": self.compile, "plugins": self.plugins, "cpus": self.cpus, "token": self.token}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["compile"], state["plugins"], state["cpus"], state.get("token"))  # type: ignore[misc]

    @property
    def cache_dir(self) -> Path:
        if self.token:
            return counting_cache_dir(Path(tempfile.gettempdir()) / f"lbfgs-bench-jax-cache-{self.token}")
        return counting_cache_dir(self.tmp / "jax-cache")

    def setup(self, worker: Any = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lbfgs-bench-worker-"))
        if shutil.which("valgrind") is None:
            self.unavailable = f"valgrind is not installed on {platform.node()} (apt-get install valgrind)"
            return
        try:
            shim = build_shim(self.tmp)
        except InstructionsUnavailable as exc:
            self.unavailable = f"{platform.node()}: {exc}"
            return
        self.cpu, self._lock_file = claim_cpu(self.cpus)
        self.zdir = self.tmp / "zygote"
        self.zdir.mkdir()
        cmd = [
            *_aslr_off_prefix(),
            "valgrind",
            *VALGRIND_FLAGS,
            f"--callgrind-out-file={self.zdir}/callgrind.%p",
            sys.executable,
            "-m",
            "lbfgs_impl.measure._callgrind_server",
            str(shim),
            *(["--compile"] if self.compile else []),
            *[f"--plugin={p}" for p in self.plugins],
        ]
        env = {**os.environ, **FIXED_ENV}
        if not self.compile:
            env.update(compile_cache_env(self.cache_dir))
        self._log = open(self.zdir / "valgrind.log", "w")  # noqa: SIM115 (closed in teardown)
        cpu = self.cpu

        def prepare() -> None:  # in the child, before valgrind starts
            os.sched_setaffinity(0, {cpu})
            die_with_parent()

        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=prepare,
        )

    def teardown(self, worker: Any = None) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._log.close()
            self.proc = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if hasattr(self, "tmp"):  # the tasks are over: no worker of this machine needs the cache now
            if user_cache_dir() is None:  # ours, temporary; never the user's
                shutil.rmtree(self.cache_dir, ignore_errors=True)
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _log_tail(self) -> str:
        lines = (self.zdir / "valgrind.log").read_text(errors="replace").strip().splitlines()
        return "\n".join(lines[-3:])

    def run_job(self, task: InstructionTask, repeat: int) -> InstructionCounts:
        """Measure ``task`` once in a child of the zygote; its counts (one sample) or its error."""
        assert self.proc is not None
        with self._write_lock:
            self._seq += 1
            job_id = f"job{self._seq}"
            jobdir = self.tmp / job_id
            jobdir.mkdir()
            line = json.dumps({"id": job_id, "spec": _task_spec(task), "dir": str(jobdir)})
            try:
                self.proc.stdin.write(line + "\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass  # noticed just below, with the log
        done = jobdir / f"{job_id}.done"
        while not done.exists():
            if self.proc.poll() is not None:
                raise ZygoteDied(
                    f"the zygote on {platform.node()} ended with status {self.proc.returncode}; "
                    f"valgrind log ends: {self._log_tail()}"
                )
            time.sleep(0.1)
        pid = json.loads(done.read_text())["pid"]
        for path in self.zdir.glob(f"callgrind.{pid}*"):
            if path.name == f"callgrind.{pid}" or path.name.startswith(f"callgrind.{pid}."):
                os.replace(path, jobdir / path.name)
        (jobdir / "jobs.json").write_text(json.dumps([{"task": task.key, "repeat": repeat, "id": job_id}]))
        (jobdir / "valgrind.log").write_text(self._log_tail())
        counts = {task.key: InstructionCounts(task)}
        _collect(jobdir, counts)
        shutil.rmtree(jobdir, ignore_errors=True)
        return counts[task.key]


def count_one(task: InstructionTask, repeat: int) -> dict[str, Any]:
    """The Dask task: one process's count of ``task`` on this worker's zygote.

    Returns ``{"counts": InstructionCounts, "machine": {...}, "worker": address}``
    or ``{"skipped": reason, ...}`` where this worker cannot count.
    """
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    where = {"machine": {**machine(), "zygote_cpu": getattr(plugin, "cpu", None)}, "worker": worker.address}
    if plugin is None:
        return {"skipped": f"no zygote plugin on worker {worker.address}", **where}
    if plugin.unavailable:
        return {"skipped": plugin.unavailable, **where}
    return {"counts": plugin.run_job(task, repeat), **where}
