"""Ending a measuring process together with every process it started.

A callgrind zygote forks one child per measurement; the child is pinned to the
zygote's CPU (CPU 0 for the first zygote, the nightly's timing CPU). Each zygote
therefore starts its own process group (``start_new_session=True``) and is ended
with the whole group, so no child outlives a timeout or an interrupted run; and each
zygote and child dies with its parent (:func:`die_with_parent`), so a measuring
process that is killed (SIGKILL, SIGTERM, out of memory) leaves no zygote working on.
:func:`supervise` waits for a pool of zygotes, replacing one that died for the
jobs it had not run.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent ends (a no-op elsewhere).

    Called in a child before it runs anything (``preexec_fn``, or after ``os.fork``); it holds
    across ``exec``. Linux sends the signal when the *thread* that started the child ends, so
    the children are started from the thread that waits for them. ``parent``: the pid that
    forked this process; if it died before the request was made (no signal would come), exit.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it must lead one); a group already gone is fine."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()


@dataclass
class Zygote:
    """One zygote of the built-in pool: its process, log, folder (``jobs.json``, results) and CPU."""

    proc: subprocess.Popen
    log: Any
    zdir: Path
    cpu: int
    handled: bool = False  # its exit has been looked at

    def jobs(self) -> list[dict[str, Any]]:
        return json.loads((self.zdir / "jobs.json").read_text())

    def unfinished(self) -> list[dict[str, Any]]:
        return [j for j in self.jobs() if not (self.zdir / f"{j['id']}.json").exists()]

    def keep_only(self, done: list[dict[str, Any]]) -> None:
        """Leave in ``jobs.json`` only ``done`` (the jobs this zygote finished; a new one runs the rest)."""
        (self.zdir / "jobs.json").write_text(json.dumps(done))


def supervise(
    first: list[tuple[str, int, list[dict[str, Any]]]],
    start: Callable[[str, int, list[dict[str, Any]]], Zygote],
    *,
    max_restarts_per_cpu: int,
    deadline: float,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Zygote], list[str]]:
    """Start a zygote for each (folder name, cpu, jobs) of ``first`` and wait for all until ``deadline``.

    A zygote that ended with jobs not run (killed, out of memory) has its process group killed
    (a child it was running must not finish a job the replacement also runs) and is replaced on
    its CPU by ``start(folder name, cpu, those jobs)``, at most ``max_restarts_per_cpu`` times per
    CPU. On return, timed out or interrupted, every zygote's process group is killed and waited
    for and its log closed. ``progress`` gets the number of finished jobs. Returns every zygote
    started (first ones, then replacements) and one line per replacement.
    """
    zygotes: list[Zygote] = []
    restarts: list[str] = []
    per_cpu: dict[int, int] = {}
    try:
        for name, cpu, jobs in first:  # inside the try: an interrupt here still ends those started
            zygotes.append(start(name, cpu, jobs))
        while True:
            for zygote in list(zygotes):
                if zygote.handled or zygote.proc.poll() is None:
                    continue
                zygote.handled = True
                kill_process_group(zygote.proc)  # its running child, if any, ends with it
                jobs = zygote.jobs()
                left = zygote.unfinished()  # one look, after the kill: nothing can finish any more
                if not left:
                    continue
                if per_cpu.get(zygote.cpu, 0) >= max_restarts_per_cpu or time.monotonic() >= deadline:
                    continue  # its jobs stay unfinished: "no result" errors in their tasks
                per_cpu[zygote.cpu] = per_cpu.get(zygote.cpu, 0) + 1
                zygote.keep_only([j for j in jobs if j not in left])
                restarts.append(
                    f"the zygote on CPU {zygote.cpu} ended (exit {zygote.proc.returncode}) with "
                    f"{len(left)} job(s) not run: handed to a new zygote"
                )
                zygotes.append(start(f"zygote-restart{len(restarts)}", zygote.cpu, left))
            if all(z.handled for z in zygotes):
                break
            if progress is not None:
                progress(sum(len(list(z.zdir.glob("job[0-9]*.json"))) for z in zygotes))
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:  # timed out or interrupted: end each zygote with the children it forked
        for zygote in zygotes:
            kill_process_group(zygote.proc)
        for zygote in zygotes:
            zygote.proc.wait()
            zygote.log.close()
    return zygotes, restarts
