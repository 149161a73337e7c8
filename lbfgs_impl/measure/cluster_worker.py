"""The worker side of :mod:`lbfgs_impl.measure.cluster`: one :class:`CountingWorker` per Dask worker.

:class:`CountingPlugin` is registered on every worker of the cluster for one measurement, under a
name of that measurement's own (two runs on one cluster never tear down each other's workers). Its
``setup`` builds the callgrind helper in the worker's temporary directory, claims a CPU and starts
the worker's counting processes (:class:`lbfgs_impl.measure.engine.CountingWorker`: a native
builder and a counter under valgrind) in the background, while the tasks queue. A worker that can
count then advertises a resource named after the measurement; the tasks ask for it, so the
scheduler sends them only to workers that can count. A worker that cannot (no valgrind, no C
compiler, a counter that does not start) never advertises it, or withdraws it and hands its task
back to the scheduler (``Reschedule``): its tasks run elsewhere. A counting process that dies is
restarted for the next task (:meth:`CountingWorker.count` retries the task it was counting once).
``teardown`` ends the worker's processes; a worker that is killed outright takes them with it
(``PR_SET_PDEATHSIG``).

CPUs: the embedded cluster passes the CPUs the caller may use; a worker of a cluster started by
hand uses its own affinity. Either way each worker claims the first CPU no other worker on the
machine holds (a ``flock`` on ``$TMPDIR/lbfgs-bench-cpu<N>.lock``, released when the worker ends),
so two workers on one machine never share a core unless there are more workers than CPUs.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lbfgs_impl.measure.engine import CountingWorker, WorkerDied
from lbfgs_impl.measure.environment import cpu_model
from lbfgs_impl.measure.valgrind_tools import InstructionsUnavailable, build_shim, valgrind_version

try:
    from distributed import Reschedule, WorkerPlugin, get_worker
except ImportError:  # the local pool still runs without Dask
    WorkerPlugin = object  # type: ignore[assignment,misc]
    get_worker = Reschedule = None  # type: ignore[assignment,misc]

PLUGIN_PREFIX = "lbfgs-bench-count-"


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


class CountingPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """One measurement's counting worker on a Dask worker (see the module docstring).

    Args:
      token: names the plugin (:attr:`name`) and the resource its tasks ask for (:attr:`resource`).
      compile: also count trace+lower+compile.
      plugins: modules the counting processes import first.
      cpus: CPUs to claim from (default: the worker's own affinity).
    """

    def __init__(self, token: str, compile: bool = False, plugins: Sequence[str] = (), cpus: Any = None):
        self.token, self.compile, self.plugins = token, compile, tuple(plugins)
        self.cpus = tuple(cpus) if cpus else None
        self.unavailable: str | None = None
        self.counting: CountingWorker | None = None
        self.cpu: int | None = None
        self.lock = threading.Lock()
        self._lock_file: IO[str] | None = None
        self._worker: Any = None

    @property
    def name(self) -> str:
        return PLUGIN_PREFIX + self.token

    @property
    def resource(self) -> str:
        return f"lbfgs-count-{self.token}"

    def __getstate__(self) -> dict[str, Any]:
        return {"token": self.token, "compile": self.compile, "plugins": self.plugins, "cpus": self.cpus}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    async def setup(self, worker: Any = None) -> None:
        self._worker = worker
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
        self.counting = CountingWorker(self.cpu, shim, self.tmp / "worker", self.compile, self.plugins)
        threading.Thread(target=self._start, daemon=True).start()  # imports JAX while the tasks queue
        if worker is not None:
            await worker.set_resources(**{self.resource: 1})

    def _start(self) -> None:
        with self.lock:
            try:
                self.counting._ensure()  # type: ignore[union-attr]
            except WorkerDied as exc:
                self.unavailable = f"{platform.node()}: {exc}"

    def refuse(self, why: str) -> None:
        """Withdraw this worker's resource: the scheduler sends this measurement's tasks elsewhere."""
        self.unavailable = why
        worker = self._worker
        if worker is not None:
            worker.loop.add_callback(worker.set_resources, **{self.resource: 0})

    def teardown(self, worker: Any = None) -> None:
        if self.counting is not None:  # not under the lock: a task counting now fails at once
            self.counting.close()
            self.counting = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if hasattr(self, "tmp"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def plugin_state(name: str, dask_worker: Any = None) -> dict[str, Any]:
    """On a worker (``client.run``): whether this measurement's plugin can count there, and why not."""
    plugin = dask_worker.plugins.get(name) if dask_worker is not None else None
    if plugin is None:
        return {"unavailable": f"no counting plugin {name}", **machine()}
    return {"unavailable": plugin.unavailable, "cpu": plugin.cpu, **machine()}


def count_one(name: str, key: str, spec: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The Dask task: one sample of a task on this worker's counting worker (``engine`` sample dict).

    A worker that cannot count hands the task back to the scheduler (``Reschedule``) after
    withdrawing its resource, so the task runs on another worker.
    """
    worker = get_worker()
    plugin = worker.plugins.get(name)
    where = {"worker": worker.address, "machine": {**machine(), "cpu_claimed": getattr(plugin, "cpu", None)}}
    if plugin is None or plugin.counting is None:
        if plugin is not None:
            plugin.refuse(plugin.unavailable or "no counting worker")
        raise Reschedule()
    with plugin.lock:
        if plugin.unavailable:
            plugin.refuse(plugin.unavailable)
            raise Reschedule()
        try:
            sample = plugin.counting.count(key, spec, repeat)
        except WorkerDied as exc:
            plugin.refuse(f"{platform.node()}: {exc}")
            raise Reschedule() from None
        restarts = list(plugin.counting.restarts)
    return {**sample, **where, "restarts": restarts}
