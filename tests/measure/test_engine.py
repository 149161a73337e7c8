"""The counting engine end to end: real valgrind, a real ``dask scheduler`` and workers (slow tier).

* order independence: the same tasks counted in two orders by long-lived counted processes and
  each in a fresh process agree within :data:`AGREE`;
* the built-in pool and two concurrent runs on one hand-started Dask cluster give the same counts;
  the cluster's third worker has no valgrind and refuses every task (none is counted there, none
  fails), and one run's counted process is killed on its first task (as the OOM killer would) and
  restarted, the task counted again, once.
The cheap parts (resume, job order) run in the tiny tier.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lbfgs_impl.commands.profile.command import _saver, saved_counts
from lbfgs_impl.measure.cluster import count_instructions, dask_unavailable_reason
from lbfgs_impl.measure.instructions import (
    InstructionCounts,
    InstructionTask,
    measure_instructions,
    ordered_jobs,
    unavailable_reason,
)

ROOT = Path(__file__).resolve().parents[2]
REASON = unavailable_reason() or dask_unavailable_reason()
needs_valgrind_and_dask = pytest.mark.skipif(REASON is not None, reason=f"cannot count: {REASON}")

TASKS = [
    InstructionTask("optax_while", "mgh_beale", 2),
    InstructionTask("scipy", "mgh_beale", 2),
    InstructionTask("optax_while", "mgh_rosenbrock", 2),
    InstructionTask("scipy", "mgh_rosenbrock", 2),
]
#: How far two counts of one task may differ (relative). One process's count against another's:
#: on the smallest tasks the per-process noise goes beyond the gate's floor (the engine page's table of
#: the full MGH set counted twice), which the gate applies to medians of several processes.
AGREE = 0.02


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))[:2]


def _agree(a: InstructionCounts, b: InstructionCounts) -> bool:
    return a.ok and b.ok and abs(a.median - b.median) <= AGREE * b.median


# ----------------------------------------------------------------- cheap: resume and job order


def test_a_resumed_run_counts_only_what_the_saved_counts_lack():
    a, b = TASKS[:2]
    done = InstructionCounts(a, solve=[5], solve_total=[6], n_iter=[1], n_fev=[1], converged=[True])
    assert ordered_jobs([a, b], 2, {a.key: done}) == [(b, 0), (a, 1), (b, 1)]  # repeat after repeat
    assert ordered_jobs([a, b], 1, {a.key: done}) == [(b, 0)]


def test_saved_counts_are_read_back_and_a_line_cut_short_is_left_out(tmp_path):
    path = tmp_path / "instructions-partial.jsonl"
    save = _saver(path)
    counts = InstructionCounts(TASKS[0], solve=[7], solve_total=[8], n_iter=[2], n_fev=[3], converged=[True])
    save(counts)
    with path.open("a") as f:
        f.write('{"solver": "scipy", "probl')  # a run killed mid-line
    assert saved_counts(path) == {TASKS[0].key: counts}
    _saver(path, resume=True)(InstructionCounts(TASKS[1], errors=["repeat 0: boom"]))  # the line is ended
    assert set(saved_counts(path)) == {TASKS[0].key, TASKS[1].key}
    _saver(path)  # without --resume the file starts afresh
    assert saved_counts(path) == {}


@pytest.mark.skipif(unavailable_reason() is not None, reason="instruction counts unavailable")
def test_a_run_with_every_count_saved_counts_nothing_again():
    saved = {t.key: InstructionCounts(t, solve=[9], solve_total=[9], n_iter=[1], n_fev=[1], converged=[True])
             for t in TASKS}  # fmt: skip
    report = measure_instructions(TASKS, repeats=1, resume=saved, cpus=_cpus()[:1])
    assert report.skipped is None and report.meta["resumed_samples"] == len(TASKS)
    assert {k: c.solve for k, c in report.counts.items()} == {t.key: [9] for t in TASKS}


# ----------------------------------------------------------------- order independence


@pytest.fixture(scope="module")
def orders():
    cpu = _cpus()[:1]
    forward = measure_instructions(TASKS, repeats=1, cpus=cpu)
    backward = measure_instructions(TASKS[::-1], repeats=1, cpus=cpu)
    fresh = {t.key: measure_instructions([t], repeats=1, cpus=cpu).counts[t.key] for t in TASKS}
    return forward, backward, fresh


@needs_valgrind_and_dask
@pytest.mark.slow
def test_counts_do_not_depend_on_the_order_or_on_what_the_process_ran_before(orders):
    forward, backward, fresh = orders
    for task in TASKS:
        a, b, c = forward.counts[task.key], backward.counts[task.key], fresh[task.key]
        assert a.errors == [] and b.errors == [] and c.errors == [], (a.errors, b.errors, c.errors)
        assert _agree(a, c) and _agree(b, c), (task.key, a.solve, b.solve, c.solve)
        assert a.n_iter == b.n_iter == c.n_iter


# ----------------------------------------------------------------- a cluster started by hand


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two runs at once on ``dask scheduler`` + workers w0, w1 and w2 (w2 without valgrind on its PATH);
    the first run's counted process dies on its first task."""
    base = tmp_path_factory.mktemp("engine-cluster")
    marker, file, empty = base / "killed", base / "scheduler.json", base / "empty-bin"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests' / 'plugins'}", "TMPDIR": str(base),
           "LBFGS_BENCH_KILL_COUNTER_MARKER": str(marker)}  # fmt: skip
    dask = [sys.executable, "-m", "dask"]
    procs: list[subprocess.Popen] = []

    def spawn(argv: list[str], extra: dict | None = None) -> None:
        procs.append(subprocess.Popen(argv, env={**env, **(extra or {})}, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip

    try:
        spawn([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(file)])  # fmt: skip
        _wait_for(file.exists, 120, "the scheduler")
        address = json.loads(file.read_text())["address"]
        worker = [*dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name"]
        spawn([*worker, "w0"])
        spawn([*worker, "w1"])
        spawn([*worker, "w2"], {"PATH": str(empty)})
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(3, timeout=120)
            addresses = {i["name"]: a for a, i in client.scheduler_info(n_workers=-1)["workers"].items()}
        reports: dict[str, object] = {}
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LBFGS_BENCH_KILL_COUNTER_MARKER", str(marker))
            mp.setenv("PYTHONPATH", env["PYTHONPATH"])

            def run(name: str, tasks: list[InstructionTask], plugins: list[str]) -> None:
                reports[name] = count_instructions(tasks, repeats=1, scheduler=address, plugins=plugins)

            threads = [
                threading.Thread(target=run, args=("killed", TASKS[:2], ["kill_counter_once"])),
                threading.Thread(target=run, args=("other", TASKS[2:], [])),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=1800)
        return {"reports": reports, "marker": marker, "refuser": addresses["w2"], "address": address}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


@pytest.fixture(scope="module")
def pool():
    return measure_instructions(TASKS, repeats=1, cpus=_cpus())


@needs_valgrind_and_dask
@pytest.mark.slow
def test_two_runs_on_one_cluster_both_count_and_match_the_pool(cluster, pool):
    reports = cluster["reports"]
    assert set(reports) == {"killed", "other"}
    for report in reports.values():
        assert report.skipped is None and report.meta["scheduler"] == f"Dask scheduler {cluster['address']}"
        for key, counts in report.counts.items():
            assert counts.errors == [] and len(counts.solve) == 1, (key, counts.errors)
            assert _agree(counts, pool.counts[key]), (key, counts.solve, pool.counts[key].solve)
            assert counts.n_iter == pool.counts[key].n_iter
            assert counts.environment == pool.counts[key].environment


@needs_valgrind_and_dask
@pytest.mark.slow
def test_a_killed_counted_process_on_a_dask_worker_is_restarted_and_counts_once(cluster):
    assert cluster["marker"].exists()  # the counted process did die
    report = cluster["reports"]["killed"]
    restarts = [line for lines in report.meta["worker_restarts"].values() for line in lines]
    assert any("counter ended while counting" in line for line in restarts), restarts
    assert all(len(ms) == 1 for ms in report.meta["task_machines"].values())  # nothing counted twice


@needs_valgrind_and_dask
@pytest.mark.slow
def test_a_worker_that_cannot_count_refuses_and_its_tasks_run_elsewhere(cluster):
    for report in cluster["reports"].values():
        workers = {m["worker"] for ms in report.meta["task_machines"].values() for m in ms}
        assert workers and cluster["refuser"] not in workers
