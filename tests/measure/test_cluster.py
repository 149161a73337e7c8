"""Instruction counts on Dask: a real LocalCluster, real ``dask scheduler``/``dask worker``, real valgrind.

The end-to-end checks share three runs of one tiny grid (two MGH problems of
n=2, scipy and optax_while, one process each, plus a task that fails): the
built-in pool on one CPU (the serial path), an embedded LocalCluster of 2
workers, and ``lbfgs-bench profile --instructions --scheduler tcp://127.0.0.1:PORT``
against a scheduler and two workers this module starts, one of which it kills
mid-run. Counts agree within 2% (the regression gate's floor).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lbfgs_impl.cli import main
from lbfgs_impl.measure.cluster import (
    SCHEDULER_ENV,
    check_scheduler,
    count_instructions,
    dask_unavailable_reason,
    resolve_scheduler,
)
from lbfgs_impl.measure.cluster_worker import claim_cpu
from lbfgs_impl.measure.instructions import InstructionCounts, InstructionTask, unavailable_reason
from lbfgs_impl.problems import make_problem

ROOT = Path(__file__).resolve().parents[2]
REASON = unavailable_reason() or dask_unavailable_reason()
needs_valgrind_and_dask = pytest.mark.skipif(REASON is not None, reason=f"cannot count on Dask: {REASON}")

PROBLEMS = ("mgh_rosenbrock", "mgh_beale")
SOLVERS = ("scipy", "optax_while")
TASKS = [InstructionTask(s, p, make_problem(p).n) for p in PROBLEMS for s in SOLVERS]
BROKEN = InstructionTask("no_such_solver", "mgh_beale", 2)
#: How far two counts of one task may differ (relative). One process's count against another's:
#: on the smallest tasks the per-process noise goes beyond the gate's floor (the engine page's table of
#: the full MGH set counted twice), which the gate applies to medians of several processes.
AGREE = 0.02


# ----------------------------------------------------------------- fast: no valgrind, no cluster


def test_scheduler_comes_from_the_flag_then_the_environment_then_local(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert resolve_scheduler(None) == ("local" if dask_unavailable_reason() is None else "none")
    monkeypatch.setenv(SCHEDULER_ENV, "none")
    assert resolve_scheduler(None) == "none"
    assert resolve_scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    assert check_scheduler("10.0.0.1:8786") == "10.0.0.1:8786"
    with pytest.raises(ValueError, match="'local', 'none' or a scheduler address"):
        check_scheduler("cluster")


@pytest.mark.parametrize("command", ["profile", "compare"])
def test_a_bad_scheduler_is_one_line_and_exit_2(capsys, command, tmp_path):
    argv = [command, "--scheduler", "cluster", *([str(tmp_path)] if command == "profile" else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lbfgs-bench: error: ")
    assert "argument --scheduler: must be 'local', 'none' or a scheduler address" in err[0]


def test_without_distributed_the_local_default_is_the_built_in_pool(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert dask_unavailable_reason().startswith("the 'distributed' package is not installed")
    assert resolve_scheduler(None) == "none"
    with pytest.raises(ValueError, match="not installed"):
        resolve_scheduler("tcp://10.0.0.1:8786")
    monkeypatch.setenv("PATH", str(tmp_path))  # and no valgrind: the pool says why, nothing runs
    report = count_instructions(TASKS)
    assert report.meta["scheduler"].startswith("none") and report.skipped.startswith("valgrind is not")


def _sample(solve: int, jax_version: str = "0.10.2") -> dict:
    env = {"python": "3.11.7", "versions": {"jax": jax_version}, "engine": "native-aot:AVX2"}
    return {
        "solve": solve,
        "solve_total": solve + 1,
        "n_iter": 3,
        "n_fev": 4,
        "converged": True,
        "environment": env,
    }


def test_samples_are_merged_only_within_one_environment():
    into = InstructionCounts(InstructionTask("scipy", "quadratic", 5))
    into.add_sample(_sample(10), 0)
    into.add_sample({"error": "boom\nsecond line"}, 1)
    into.add_sample(_sample(11), 2)
    into.add_sample(_sample(99, "0.11.0"), 3)  # another machine's jax: kept apart, never in the median
    assert into.solve == [10, 11] and into.solve_total == [11, 12] and into.n_iter == [3, 3]
    assert into.errors[0] == "repeat 1: boom"
    assert into.errors[1] == "repeat 3: counted in another environment (jax 0.10.2 vs 0.11.0); not merged"
    assert [s["solve"] for s in into.other_environments] == [99] and into.median == 10.5
    again = InstructionCounts.from_dict(into.to_dict())  # what a resumed run reads back
    assert again == into


def test_workers_on_one_machine_claim_different_cpus(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first, lock1 = claim_cpu([0, 1])
    second, lock2 = claim_cpu([0, 1])
    assert {first, second} == {0, 1} and lock1 is not None and lock2 is not None
    third, lock3 = claim_cpu([0, 1])  # more workers than CPUs: they share, nothing is locked
    assert third in (0, 1) and lock3 is None
    lock1.close()
    assert claim_cpu([0, 1])[0] == first  # a worker that ends frees its CPU


# ----------------------------------------------------------------- real runs


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))[:2]


@pytest.fixture(scope="module")
def serial():
    return count_instructions([*TASKS, BROKEN], repeats=1, scheduler="none", cpus=_cpus()[:1])


@pytest.fixture(scope="module")
def embedded():
    """The LocalCluster run."""
    seen: list[tuple[int, int]] = []
    arrived: list[str] = []
    report = count_instructions(
        [*TASKS, BROKEN],
        repeats=1,
        scheduler="local",
        cpus=_cpus(),
        progress=lambda done, total: seen.append((done, total)),
        on_result=lambda counts: arrived.append(counts.task.key),
    )
    return report, seen, arrived


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= AGREE * b


@needs_valgrind_and_dask
@pytest.mark.slow
def test_a_local_cluster_of_two_workers_counts_what_the_serial_path_counts(serial, embedded):
    report, seen, arrived = embedded
    assert "LocalCluster" in report.meta["scheduler"] and report.skipped is None
    assert report.meta["valgrind"] == serial.meta["valgrind"] and report.meta["env"] == serial.meta["env"]
    for task in TASKS:
        mine, ref = report.counts[task.key], serial.counts[task.key]
        assert mine.errors == [] and ref.errors == [] and len(mine.solve) == 1
        assert _agree(mine.median, ref.median), (task.key, mine.solve, ref.solve)
        assert mine.n_iter == ref.n_iter and mine.converged == ref.converged
        (where,) = report.meta["task_machines"][task.key]
        assert where["host"] and where["cpu"] and where["cpu_claimed"] in _cpus()
        assert mine.environment == ref.environment and mine.environment["engine"] == report.meta["engine"]
    # streamed back one by one, under one progress count
    assert seen[0] == (0, 5) and seen[-1] == (5, 5) and [d for d, _ in seen] == list(range(6))
    assert sorted(arrived) == sorted(t.key for t in [*TASKS, BROKEN])


@needs_valgrind_and_dask
@pytest.mark.slow
def test_a_task_that_fails_is_one_line_and_the_rest_complete(embedded):
    report, _, _ = embedded
    broken = report.counts[BROKEN.key]
    assert not broken.ok and len(broken.errors) == 1
    assert "unknown solver 'no_such_solver'" in broken.errors[0]
    assert all(report.counts[t.key].ok for t in TASKS)


# ----------------------------------------------------------------- a cluster started by hand


def _ours(marker: str) -> list[str]:
    """Command lines of running valgrind processes that mention ``marker`` (this test's TMPDIR)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "valgrind" in cmd and marker in cmd:
            found.append(f"{proc.name}: {cmd[:200]}")
    return found


def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp), SCHEDULER_ENV: ""}


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.5)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory):
    """``profile --instructions --scheduler tcp://127.0.0.1:PORT`` on a scheduler and two workers started
    here; worker w0 is killed (SIGKILL) as soon as the first count is saved."""
    base = tmp_path_factory.mktemp("by-hand")
    env, out, file = _env(base / "tmp"), base / "out", base / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    procs: list[subprocess.Popen] = []
    spawn = lambda argv: procs.append(  # noqa: E731
        subprocess.Popen(
            argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )
    try:
        spawn(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ]
        )
        _wait_for(file.exists, 120, "the scheduler")
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("w0", "w1"):
            spawn(
                [*dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name]
            )
        argv = ["profile", "--problems", ",".join(PROBLEMS), "--solvers", ",".join(SOLVERS), "--repeats", "1"]
        argv += ["--instructions", "--scheduler", address, str(out)]
        run = subprocess.Popen(
            [sys.executable, "-m", "lbfgs_impl", *argv], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        partial = out / "instructions-partial.jsonl"
        _wait_for(
            lambda: (partial.exists() and partial.read_text().strip()) or run.poll() is not None,
            1800,  # both workers and their counting processes may share one CPU (the xdist worker is pinned)
            "a count",
        )
        killed_mid_run = run.poll() is None
        os.kill(procs[1].pid, signal.SIGKILL)  # worker w0, with its counting processes
        _, stderr = run.communicate(timeout=1800)
        leftovers = _ours(str(base / "tmp"))  # the run is over: nothing of ours may still run valgrind
        return {"rc": run.returncode, "out": out, "stderr": stderr, "killed_mid_run": killed_mid_run,
                "leftovers": leftovers, "address": address}  # fmt: skip
    finally:
        _stop(procs)


@needs_valgrind_and_dask
@pytest.mark.slow
def test_profile_on_a_hand_started_cluster_survives_a_killed_worker_and_matches_the_embedded_one(
    by_hand, embedded
):
    assert by_hand["rc"] == 0, by_hand["stderr"][-3000:]
    assert by_hand["killed_mid_run"], "the run ended before a worker could be killed"
    doc = json.loads((by_hand["out"] / "results.json").read_text())
    assert doc["meta"]["instructions"]["scheduler"] == f"Dask scheduler {by_hand['address']}"
    assert doc["meta"]["instructions"]["tasks"] == len(TASKS) and doc["meta"]["instructions"]["phase_s"] > 0
    report, _, _ = embedded
    rows = {(r["solver"], r["problem"]): r for r in doc["runs"]}
    assert set(rows) == {(t.solver, t.problem) for t in TASKS}  # nothing missing
    for task in TASKS:
        counted = rows[task.solver, task.problem]["instructions"]
        assert counted is not None and _agree(counted, report.counts[task.key].median), task.key
        # the counted solve's own iterations, read from its sample, beside the timed solve's
        assert rows[task.solver, task.problem]["instructions_n_iter"] == report.counts[task.key].n_iter[0]
    # nothing counted twice: one sample per task, though a worker died under it
    assert all(len(ms) == 1 for ms in doc["meta"]["instructions"]["task_machines"].values())
    assert not (by_hand["out"] / "instructions-partial.jsonl").exists()  # all of it is in results.json
    assert by_hand["leftovers"] == []


@needs_valgrind_and_dask
@pytest.mark.slow
def test_ctrl_c_leaves_no_valgrind_process_behind(tmp_path):
    env = _env(tmp_path / "tmp")
    argv = ["compare", "--problem", "quadratic", "--n", "5", "--solvers", "scipy", "--repeats", "1"]
    argv += ["--first-call-repeats", "1", "--instructions", "--instructions-repeats", "2"]
    run = subprocess.Popen(
        [sys.executable, "-m", "lbfgs_impl", *argv], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    marker = str(tmp_path / "tmp")
    try:
        _wait_for(lambda: _ours(marker) or run.poll() is not None, 300, "a counting process")
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        run.wait(timeout=120)
        _wait_for(lambda: not _ours(marker), 30, "the counting processes to go")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
