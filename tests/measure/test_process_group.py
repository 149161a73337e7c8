"""A timed-out, dying or orphaned instruction count leaves no process behind (real valgrind processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbfgs_impl.measure import engine
from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions, unavailable_reason

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
REASON = unavailable_reason()
TASKS = [InstructionTask("scipy", "quadratic", 5), InstructionTask("optax_while", "quadratic", 5)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().split(")")[-1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _plugins_with(monkeypatch: pytest.MonkeyPatch, variable: str, path: Path) -> None:
    """The test plugins importable by the counting processes, ``variable`` naming ``path`` for them."""
    monkeypatch.setenv(variable, str(path))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_task_past_its_limit_is_an_error_and_its_counted_process_is_ended(tmp_path, monkeypatch):
    pidfile = tmp_path / "counter.pid"
    _plugins_with(monkeypatch, "LBFGS_BENCH_HANG_PIDFILE", pidfile)
    monkeypatch.setattr(engine, "task_limit_s", lambda native_run_s, compile: 20.0)
    cpu = min(os.sched_getaffinity(0))
    report = measure_instructions(TASKS[:1], repeats=1, cpus=[cpu], plugins=["hang_counter"])
    assert pidfile.exists(), "the counted process never started the task"
    (error,) = report.counts[TASKS[0].key].errors
    assert "took more than 20 s (the task's limit)" in error
    assert not _alive(int(pidfile.read_text())), "the hanging counted process outlived its limit"


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_counted_process_that_dies_is_restarted_and_every_count_taken_once(tmp_path, monkeypatch):
    cpu = min(os.sched_getaffinity(0))
    _plugins_with(monkeypatch, "LBFGS_BENCH_KILL_COUNTER_MARKER", tmp_path / "killed")
    report = measure_instructions(TASKS, repeats=1, cpus=[cpu], plugins=["kill_counter_once"])
    assert (tmp_path / "killed").exists()  # the first task's counted process was killed
    assert report.meta["worker_restarts"] == [f"counter ended while counting {TASKS[0].key} (status -9)"]
    for task in TASKS:  # each counted once, none lost
        counts = report.counts[task.key]
        assert counts.ok and counts.errors == [] and len(counts.solve) == 1, (task, counts.errors)


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_killed_measuring_process_takes_its_counting_processes_with_it(tmp_path, monkeypatch):
    """SIGKILL of the process that called measure_instructions (a cancelled CI job, `timeout -s
    KILL`, the OOM killer): its builder and counted process end too, instead of working on."""
    pidfile = tmp_path / "counter.pid"
    _plugins_with(monkeypatch, "LBFGS_BENCH_HANG_PIDFILE", pidfile)
    cpu = min(os.sched_getaffinity(0))
    code = (
        "from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions\n"
        f"measure_instructions([InstructionTask('scipy', 'quadratic', 5)], repeats=1, cpus=[{cpu}], "
        "plugins=['hang_counter'])\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(tmp_path)})
    started: list[int] = []
    try:
        deadline = time.monotonic() + 900  # the counted process imports JAX under valgrind first
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            assert parent.poll() is None, "the measuring process ended before its task started"
            time.sleep(0.2)
        assert pidfile.exists() and pidfile.read_text(), "the counted process did not start in 15 min"
        started = _children(parent.pid)
        assert int(pidfile.read_text()) in started and len(started) == 2  # the builder and the counter
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in started if _alive(p)], "a counting process outlived the measuring process"
    finally:
        for pid in started:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
