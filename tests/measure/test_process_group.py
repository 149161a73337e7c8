"""A timed-out or killed instruction count leaves no process behind (a real zygote, a real forked child)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions, unavailable_reason

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
REASON = unavailable_reason()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _plugins_with(monkeypatch: pytest.MonkeyPatch, variable: str, path: Path) -> None:
    """The test plugins importable by the zygote's children, ``variable`` naming ``path`` for them."""
    monkeypatch.setenv(variable, str(path))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_timed_out_count_kills_the_zygotes_child_too(tmp_path, monkeypatch):
    pidfile = tmp_path / "child.pid"
    _plugins_with(monkeypatch, "LBFGS_BENCH_HANG_PIDFILE", pidfile)

    def until_the_child_hangs(done: int, total: int) -> None:
        limit = time.monotonic() + 600  # the zygote imports JAX under valgrind first
        while not pidfile.exists() and time.monotonic() < limit:
            time.sleep(0.2)

    task = InstructionTask("scipy", "quadratic", 5)
    cpu = min(os.sched_getaffinity(0))
    report = measure_instructions(
        [task], repeats=1, cpus=[cpu], plugins=["hang_child"], timeout_s=0.01, progress=until_the_child_hangs
    )
    assert pidfile.exists(), "the forked child never started"
    child = int(pidfile.read_text())
    try:
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), f"the zygote's child {child} outlived the timeout"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
    assert not report.counts[task.key].ok and "no result" in report.counts[task.key].errors[0]


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_zygote_that_dies_is_replaced_and_every_count_taken_once(tmp_path, monkeypatch):
    from lbfgs_impl.measure import instructions

    tasks = [InstructionTask("scipy", "quadratic", 5), InstructionTask("optax_while", "quadratic", 5)]
    cpu = min(os.sched_getaffinity(0))
    _plugins_with(monkeypatch, "LBFGS_BENCH_KILL_ZYGOTE_MARKER", tmp_path / "killed")
    report = measure_instructions(tasks, repeats=1, cpus=[cpu], plugins=["kill_zygote_once"])
    assert len((tmp_path / "killed").read_text().splitlines()) == 3  # job0, job1 (killer), job1 again
    # job0 finished in the first zygote, job1 died with it and was handed to the replacement
    assert report.meta["zygote_restarts"] == [
        f"the zygote on CPU {cpu} ended (exit -9) with 1 job(s) not run: handed to a new zygote"
    ]
    for task in tasks:  # each counted once, none lost
        counts = report.counts[task.key]
        assert counts.ok and counts.errors == [] and len(counts.solve) == 1, (task, counts.errors)

    # with no replacement allowed, the job the dead zygote did not run is an error, never silent
    monkeypatch.setattr(instructions, "MAX_ZYGOTE_RESTARTS", 0)
    _plugins_with(monkeypatch, "LBFGS_BENCH_KILL_ZYGOTE_MARKER", tmp_path / "killed-again")
    report = measure_instructions(tasks, repeats=1, cpus=[cpu], plugins=["kill_zygote_once"])
    assert "zygote_restarts" not in report.meta
    assert report.counts[tasks[0].key].ok
    lost = report.counts[tasks[1].key]
    assert not lost.ok and len(lost.errors) == 1 and "no result" in lost.errors[0]


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_killed_measuring_process_takes_its_zygote_and_child_with_it(tmp_path, monkeypatch):
    """SIGKILL of the process that called measure_instructions (a cancelled CI job, `timeout -s
    KILL`, the OOM killer): its zygote and the zygote's child end too, instead of working on."""
    pidfile = tmp_path / "child.pid"
    _plugins_with(monkeypatch, "LBFGS_BENCH_HANG_PIDFILE", pidfile)
    cpu = min(os.sched_getaffinity(0))
    code = (
        "from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions\n"
        f"measure_instructions([InstructionTask('scipy', 'quadratic', 5)], repeats=1, cpus=[{cpu}], "
        "plugins=['hang_child'])\n"
    )
    # its temporary folders (left behind when it is killed) go under tmp_path
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(tmp_path)})
    child = zygote = None
    try:
        deadline = time.monotonic() + 600  # the zygote imports JAX under valgrind first
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            assert parent.poll() is None, "the measuring process ended before its child started"
            time.sleep(0.2)
        assert pidfile.exists() and pidfile.read_text(), "the zygote's child did not start in 10 min"
        child = int(pidfile.read_text())
        zygote = int(Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[1])  # its parent
        assert zygote != parent.pid and _alive(zygote)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while (_alive(child) or _alive(zygote)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(zygote), f"the zygote {zygote} outlived the process that started it"
        assert not _alive(child), f"the zygote's child {child} outlived it"
    finally:
        for pid in (child, zygote):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
