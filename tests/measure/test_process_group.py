"""A timed-out instruction count leaves no process behind (a real zygote, a real forked child)."""

from __future__ import annotations

import os
import signal
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


@pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
@pytest.mark.slow
def test_a_timed_out_count_kills_the_zygotes_child_too(tmp_path, monkeypatch):
    pidfile = tmp_path / "child.pid"
    monkeypatch.setenv("LBFGS_BENCH_HANG_PIDFILE", str(pidfile))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )

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
def test_a_zygote_that_dies_is_replaced_and_every_count_taken(tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("LBFGS_BENCH_KILL_ZYGOTE_MARKER", str(marker))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )
    tasks = [InstructionTask("scipy", "quadratic", 5), InstructionTask("optax_while", "quadratic", 5)]
    cpu = min(os.sched_getaffinity(0))
    report = measure_instructions(tasks, repeats=1, cpus=[cpu], plugins=["kill_zygote_once"])
    assert marker.exists(), "the plugin never killed the zygote"
    assert len(report.meta["zygote_restarts"]) == 1
    assert "with 2 job(s) not run: a new zygote ran them" in report.meta["zygote_restarts"][0]
    for task in tasks:  # both jobs ran in the new zygote, each counted once
        counts = report.counts[task.key]
        assert counts.ok and counts.errors == [] and len(counts.solve) == 1, (task, counts.errors)
