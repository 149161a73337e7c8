"""Instruction counts on a Dask cluster: an embedded ``LocalCluster`` by default, or any scheduler.

:func:`count_instructions` is the entry point of every instruction phase
(``compare``, ``profile``, ``perf --perf-instructions``, the asv helper). It
submits one Dask task per (solver, problem, n, config, repeat) and streams the
results back as they finish (``as_completed``), calling ``progress`` and
``on_result`` for each. Where the tasks run (``scheduler``, else
``$LBFGS_BENCH_SCHEDULER``, else ``"local"``):

* ``"local"`` (default): an embedded ``LocalCluster`` with one single-threaded
  worker process per allowed CPU, each with its own zygote
  (:class:`lbfgs_impl.measure.cluster_worker.ZygotePlugin`): the behaviour of the
  built-in pool, through Dask;
* an address (``tcp://host:8786``): an existing cluster (``dask scheduler`` and
  ``dask worker``, dask-jobqueue, dask-kubernetes); every worker needs this
  package, valgrind and a C compiler;
* ``"none"``: no Dask, the built-in zygote pool of
  :func:`lbfgs_impl.measure.instructions.measure_instructions` (also what
  ``"local"`` falls back to where ``distributed`` is not installed).

Faults: a worker that dies mid-task has its tasks re-run on another worker by
the scheduler (up to ``distributed.scheduler.allowed-failures`` deaths); a task
whose zygote died is retried (``retries=2``); a task that fails everywhere
becomes one line in its task's ``errors``; each future's result is taken once,
so nothing is counted twice. Interrupting the caller unregisters the plugin,
whose teardown kills every zygote's process group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from lbfgs_impl.measure.instructions import (
    InstructionCounts,
    InstructionReport,
    InstructionTask,
    measure_instructions,
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


def merge_counts(into: InstructionCounts, sample: InstructionCounts) -> None:
    """Append one process's figures (every list field of :class:`InstructionCounts`) to ``into``."""
    for f in dataclasses.fields(InstructionCounts):
        mine, theirs = getattr(into, f.name), getattr(sample, f.name)
        if isinstance(mine, list):
            mine.extend(theirs)


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
    timeout_s: float = 3600.0,
    scheduler: str | None = None,
    on_result: Callable[[InstructionCounts], None] | None = None,
) -> InstructionReport:
    """Count each task's instructions, ``repeats`` processes each, wherever ``scheduler`` says.

    Args and result as :func:`lbfgs_impl.measure.instructions.measure_instructions`, plus:
      scheduler: ``"local"``, ``"none"`` or a scheduler address (default: see the module docstring).
      on_result: called with a task's counts so far each time one of its processes finishes.

    ``meta["scheduler"]`` says where the tasks ran, ``meta["machines"]`` lists the
    machines that counted and ``meta["task_machines"]`` which one took each sample.
    """
    if repeats < 1:
        raise ValueError(f"instruction repeats must be >= 1, got {repeats}")
    target = resolve_scheduler(scheduler)
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    if target == NO_DASK:
        report = measure_instructions(
            tasks, repeats=repeats, compile=compile, cpus=cpus, plugins=plugins, progress=progress,
            timeout_s=timeout_s,
        )  # fmt: skip
        report.meta["scheduler"] = "none: the built-in zygote pool"
        for counts in report.counts.values() if on_result else ():
            on_result(counts)  # type: ignore[misc]
        return report
    # No tasks: the same meta (valgrind, flags, environment) and the local availability check, nothing run.
    base = measure_instructions([], repeats=repeats, compile=compile, cpus=cpus, plugins=plugins)
    counts = {t.key: InstructionCounts(t) for t in tasks}
    if target == LOCAL and base.skipped:
        return InstructionReport(counts, {**base.meta, "scheduler": target}, base.skipped)
    with contextlib.ExitStack() as stack:
        try:
            client, description = stack.enter_context(_client(target, cpus))
        except Exception as exc:
            if target != LOCAL:
                raise
            # The embedded cluster could not start (for example a script without a __main__ guard,
            # which spawned workers re-run): the built-in pool counts the same thing.
            report = count_instructions(
                tasks, repeats=repeats, compile=compile, cpus=cpus, plugins=plugins, progress=progress,
                timeout_s=timeout_s, scheduler=NO_DASK, on_result=on_result,
            )  # fmt: skip
            report.meta["scheduler"] += f" (the embedded LocalCluster did not start: {exc})"
            return report
        meta = {**base.meta, "scheduler": description}
        if target != LOCAL:
            meta["zygote_cpus"] = "one per worker, claimed on the worker's machine"
        skipped = _run(client, tasks, counts, meta, repeats, compile, cpus if target == LOCAL else None,
                       plugins, progress, timeout_s, on_result)  # fmt: skip
    return InstructionReport(counts, meta, skipped)


def _run(
    client: Any,
    tasks: Sequence[InstructionTask],
    counts: dict[str, InstructionCounts],
    meta: dict[str, Any],
    repeats: int,
    compile: bool,
    cpus: Sequence[int] | None,
    plugins: Sequence[str],
    progress: Callable[[int, int], None] | None,
    timeout_s: float,
    on_result: Callable[[InstructionCounts], None] | None,
) -> str | None:
    """Submit, stream back, merge. Returns the reason when no worker could count at all."""
    from distributed import as_completed

    from lbfgs_impl.measure.cluster_worker import PLUGIN_NAME, ZygotePlugin, count_one

    token = uuid.uuid4().hex[:8]
    client.register_plugin(ZygotePlugin(compile, plugins, cpus, token), name=PLUGIN_NAME)
    futures = {
        client.submit(count_one, t, r, key=f"lbfgs-count-{token}-{t.key}-r{r}", pure=False, retries=2): (t, r)
        for r in range(repeats)
        for t in tasks
    }
    machines: dict[str, list[dict[str, Any]]] = {t.key: [] for t in tasks}
    skipped: list[str] = []
    total, done = len(futures), 0
    if progress is not None:
        progress(0, total)
    try:
        pending = set(futures)
        with contextlib.suppress(TimeoutError):
            for future in as_completed(futures, timeout=timeout_s):
                pending.discard(future)
                task, repeat = futures[future]
                _take(future, task, repeat, counts[task.key], machines[task.key], skipped)
                done += 1
                if progress is not None:
                    progress(done, total)
                if on_result is not None:
                    on_result(counts[task.key])
        for future in pending:
            task, repeat = futures[future]
            counts[task.key].errors.append(f"repeat {repeat}: not finished within {timeout_s:g} s")
            future.cancel()
    finally:
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(PLUGIN_NAME)
    meta["task_machines"] = machines
    meta["machines"] = sorted({(m["host"], m["cpu"]) for ms in machines.values() for m in ms})
    if skipped and len(skipped) == total:
        return skipped[0]
    return None


def _take(
    future: Any,
    task: InstructionTask,
    repeat: int,
    into: InstructionCounts,
    machines: list[dict[str, Any]],
    skipped: list[str],
) -> None:
    try:
        out = future.result()
    except Exception as exc:  # failed on every worker it was tried on: one line, the rest go on
        into.errors.append(f"repeat {repeat}: {type(exc).__name__}: {exc}".splitlines()[0])
        return
    if "skipped" in out:
        skipped.append(out["skipped"])
        into.errors.append(f"repeat {repeat}: skipped on {out['worker']}: {out['skipped']}")
        return
    merge_counts(into, out["counts"])
    machines.append({**out["machine"], "worker": out["worker"], "repeat": repeat})
