"""Instruction counts on a Dask cluster: an embedded ``LocalCluster`` by default, or any scheduler.

:func:`count_instructions` is the entry point of every instruction phase
(``compare``, ``profile``, ``perf --perf-instructions``, the asv helper). It
submits one Dask task per (solver, problem, n, config, repeat) and streams the
results back as they finish (``as_completed``), calling ``progress`` and
``on_result`` for each. Where the tasks run (``scheduler``, else
``$LBFGS_BENCH_SCHEDULER``, else ``"local"``):

* ``"local"`` (default): an embedded ``LocalCluster`` with one single-threaded
  worker process per allowed CPU, each with its own counting worker
  (:class:`lbfgs_impl.measure.cluster_worker.CountingPlugin`): the built-in pool's
  worker, through Dask;
* an address (``tcp://host:8786``): an existing cluster (``dask scheduler`` and
  ``dask worker``, dask-jobqueue, dask-kubernetes); every worker needs this
  package, valgrind and a C compiler;
* ``"none"``: no Dask, the built-in pool of
  :func:`lbfgs_impl.measure.instructions.measure_instructions` (also what
  ``"local"`` falls back to where ``distributed`` is not installed).

Faults: a worker that dies mid-task has its tasks re-run on another worker by
the scheduler (up to ``distributed.scheduler.allowed-failures`` deaths); a counting
process that dies is restarted on its worker and the task counted once more; a worker
that cannot count withdraws its resource and hands its tasks back, so they run
elsewhere; a task that fails becomes one line in its task's ``errors``; each
future's result is taken once, so nothing is counted twice. There is no global
deadline: each task has its own limit, scaled by its native solve time
(:func:`lbfgs_impl.measure.engine.task_limit_s`). Each run registers its plugin under
a name of its own, so two runs on one cluster never end each other's workers;
interrupting the caller unregisters it, whose teardown ends its processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from lbfgs_impl.measure.instructions import (
    InstructionCounts,
    InstructionReport,
    InstructionTask,
    base_meta,
    fresh_counts,
    measure_instructions,
    ordered_jobs,
    report_environment,
    task_spec,
    unavailable_reason,
)

#: The environment variable read when no ``--scheduler`` is given.
SCHEDULER_ENV = "LBFGS_BENCH_SCHEDULER"
LOCAL = "local"
NO_DASK = "none"


def dask_unavailable_reason() -> str | None:
    """Why Dask cannot be used here (``distributed`` missing), or ``None``."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return "the 'distributed' package is not installed (pip install 'lbfgs-bench[cluster]')"
    return None


def resolve_scheduler(requested: str | None = None) -> str:
    """``requested``, else ``$LBFGS_BENCH_SCHEDULER``, else ``"local"``; ``"none"`` where Dask is missing."""
    value = (requested or os.environ.get(SCHEDULER_ENV) or LOCAL).strip()
    if value != NO_DASK and dask_unavailable_reason() is not None:
        if value != LOCAL:
            raise ValueError(f"--scheduler {value}: {dask_unavailable_reason()}")
        return NO_DASK
    return value


def check_scheduler(value: str) -> str:
    """Validate a ``--scheduler`` value: ``local``, ``none`` or an address (``tcp://host:port``)."""
    if value in (LOCAL, NO_DASK) or "://" in value or ":" in value:
        return value
    raise ValueError(
        f"--scheduler must be 'local', 'none' or a scheduler address (tcp://host:port), got {value!r}"
    )


@contextlib.contextmanager
def _client(target: str, cpus: Sequence[int]) -> Iterator[tuple[Any, str]]:
    from distributed import Client, LocalCluster

    if target == LOCAL:
        with (
            LocalCluster(
                n_workers=len(cpus),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client, f"embedded LocalCluster, {len(cpus)} single-threaded worker process(es)"
    else:
        with Client(target, timeout="30s") as client:
            yield client, f"Dask scheduler {target}"


def count_instructions(
    tasks: Sequence[InstructionTask],
    *,
    repeats: int = 3,
    compile: bool = False,
    cpus: Sequence[int] | None = None,
    plugins: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
    on_result: Callable[[InstructionCounts], None] | None = None,
    resume: dict[str, InstructionCounts] | None = None,
) -> InstructionReport:
    """Count each task's instructions, ``repeats`` processes each, wherever ``scheduler`` says.

    Args and result as :func:`lbfgs_impl.measure.instructions.measure_instructions`, plus:
      scheduler: ``"local"``, ``"none"`` or a scheduler address (default: see the module docstring).

    ``meta["scheduler"]`` says where the tasks ran, ``meta["machines"]`` lists the
    machines that counted and ``meta["task_machines"]`` which one took each sample.
    """
    if repeats < 1:
        raise ValueError(f"instruction repeats must be >= 1, got {repeats}")
    target = resolve_scheduler(scheduler)
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    common = {"repeats": repeats, "compile": compile, "plugins": plugins, "progress": progress,
              "on_result": on_result, "resume": resume}  # fmt: skip
    if target == NO_DASK:
        report = measure_instructions(tasks, cpus=cpus, **common)  # type: ignore[arg-type]
        report.meta["scheduler"] = "none: the built-in pool"
        return report
    meta = base_meta(repeats, compile, cpus, plugins)
    counts = fresh_counts(tasks, resume)
    if target == LOCAL and (reason := unavailable_reason()):
        return InstructionReport(counts, {**meta, "scheduler": target}, reason)
    with contextlib.ExitStack() as stack:
        try:
            client, description = stack.enter_context(_client(target, cpus))
        except Exception as exc:
            if target != LOCAL:
                raise
            # The embedded cluster could not start (for example a script without a __main__ guard,
            # which spawned workers re-run): the built-in pool counts the same thing.
            report = count_instructions(tasks, cpus=cpus, scheduler=NO_DASK, **common)  # type: ignore[arg-type]
            report.meta["scheduler"] += f" (the embedded LocalCluster did not start: {exc})"
            return report
        meta["scheduler"] = description
        if target != LOCAL:
            meta["worker_cpus"] = "one per worker, claimed on the worker's machine"
        jobs = ordered_jobs(tasks, repeats, resume)
        skipped = _run(client, jobs, counts, meta, compile, cpus if target == LOCAL else None,
                       plugins, progress, on_result)  # fmt: skip
    meta["environment"] = report_environment(counts)
    return InstructionReport(counts, meta, skipped)


#: How often the client checks that some worker can still count while it waits.
WATCH_S = 15.0


def _run(
    client: Any,
    jobs: Sequence[tuple[InstructionTask, int]],
    counts: dict[str, InstructionCounts],
    meta: dict[str, Any],
    compile: bool,
    cpus: Sequence[int] | None,
    plugins: Sequence[str],
    progress: Callable[[int, int], None] | None,
    on_result: Callable[[InstructionCounts], None] | None,
) -> str | None:
    """Register this run's plugin, submit, stream back, merge. The reason when no worker can count."""
    from distributed import wait

    from lbfgs_impl.measure.cluster_worker import CountingPlugin, count_one, plugin_state

    plugin = CountingPlugin(uuid.uuid4().hex[:8], compile, plugins, cpus)
    client.register_plugin(plugin, name=plugin.name)
    machines: dict[str, list[dict[str, Any]]] = {key: [] for key in counts}
    total, done = len(jobs), 0
    if progress is not None:
        progress(0, total)
    try:
        futures = {
            client.submit(
                count_one, plugin.name, t.key, task_spec(t), r, pure=False, resources={plugin.resource: 1},
                key=f"lbfgs-count-{plugin.token}-{t.key}-r{r}",
            ): (t, r)
            for t, r in jobs
        }  # fmt: skip
        pending = set(futures)
        while pending:
            try:
                finished, pending = wait(pending, timeout=WATCH_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in WATCH_S: look whether a worker can still count
                finished = set()
            for future in finished:
                task, repeat = futures[future]
                _take(future, repeat, counts[task.key], machines[task.key], meta)
                done += 1
                if progress is not None:
                    progress(done, total)
                if on_result is not None:
                    on_result(counts[task.key])
            if pending and not finished and (why := _nobody_can_count(client, plugin, plugin_state)):
                for future in pending:
                    task, repeat = futures[future]
                    counts[task.key].errors.append(f"repeat {repeat}: {why}")
                    future.cancel()
                if done == 0:
                    return why
                break
    finally:
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(plugin.name)
    meta["task_machines"] = machines
    meta["machines"] = sorted({(m["host"], m["cpu"]) for ms in machines.values() for m in ms})
    return None


def _nobody_can_count(client: Any, plugin: Any, plugin_state: Any) -> str | None:
    """Why no worker of the cluster can count for this run, or None while one can (each worker's
    plugin says whether it can: one that refused or never could holds no resource)."""
    states = client.run(plugin_state, plugin.name)
    if any(not s.get("unavailable") for s in states.values()):
        return None
    reasons = sorted({s["unavailable"] for s in states.values()})
    return "no worker can count: " + ("; ".join(reasons) or "the cluster has no worker")


def _take(
    future: Any, repeat: int, into: InstructionCounts, machines: list[dict[str, Any]], meta: dict[str, Any]
) -> None:
    try:
        out = future.result()
    except Exception as exc:  # failed on every worker it was tried on: one line, the rest go on
        into.errors.append(f"repeat {repeat}: {type(exc).__name__}: {exc}".splitlines()[0])
        return
    into.add_sample(out, repeat)
    if out.get("restarts"):
        meta.setdefault("worker_restarts", {})[out["worker"]] = out["restarts"]
    if not out.get("error"):
        machines.append({**out["machine"], "worker": out["worker"], "repeat": repeat})
