"""The built-in pool of :func:`lbfgs_impl.measure.instructions.measure_instructions`.

One :class:`lbfgs_impl.measure.engine.CountingWorker` per CPU, each in a thread of the measuring
process, all taking (task, repeat) jobs from one queue: a worker asks its builder for the next job's
executables while it counts the current one. A worker whose processes cannot start again hands its
job back to the queue, for the others.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbfgs_impl.measure.engine import CountingWorker, WorkerDied


@dataclass
class Pool:
    """The built-in pool: one :class:`CountingWorker` per CPU, each in a thread, on one shared queue."""

    counts: dict[str, Any]
    shim: Path
    tmp: Path
    compile: bool
    plugins: tuple[str, ...]
    keep_dumps: str | os.PathLike[str] | None
    on_result: Callable[[Any], None] | None
    progress: Callable[[int, int], None] | None
    jobs: list[tuple[Any, int]]
    spec: Callable[[Any], dict[str, Any]]
    restarts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self, cpus: Sequence[int]) -> None:
        self.todo: queue.Queue[tuple[Any, int]] = queue.Queue()
        for job in self.jobs:
            self.todo.put(job)
        self.lock, self.done = threading.Lock(), 0
        threads = [
            threading.Thread(target=self.serve, args=(cpu, i), daemon=True) for i, cpu in enumerate(cpus)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        while not self.todo.empty():  # every worker failed to start again: said, never silent
            task, repeat = self.todo.get_nowait()
            why = "; ".join(self.failures)
            self.counts[task.key].errors.append(f"repeat {repeat}: no worker could count it ({why})")

    def serve(self, cpu: int, index: int) -> None:
        keep = Path(self.keep_dumps) / f"worker{index}" if self.keep_dumps is not None else None
        workdir = self.tmp / f"worker{index}"
        with CountingWorker(cpu, self.shim, workdir, self.compile, self.plugins, keep) as worker:
            try:
                while True:
                    try:
                        task, repeat = self.todo.get_nowait()
                    except queue.Empty:
                        return
                    nxt = _peek(self.todo)
                    if nxt is not None:  # built natively while this one is counted
                        worker.build(nxt[0].key, self.spec(nxt[0]))
                    sample = worker.count(task.key, self.spec(task), repeat)
                    with self.lock:
                        self.counts[task.key].add_sample(sample, repeat)
                        self.done += 1
                        if self.on_result is not None:
                            self.on_result(self.counts[task.key])
                        if self.progress is not None:
                            self.progress(self.done, len(self.jobs))
            except WorkerDied as exc:  # it cannot start again: its job goes to the others
                self.failures.append(f"worker on CPU {cpu}: {exc}")
                self.todo.put((task, repeat))
            finally:
                self.restarts.extend(worker.restarts)


def _peek(todo: queue.Queue[Any]) -> Any:
    with todo.mutex:
        return todo.queue[0] if todo.queue else None
