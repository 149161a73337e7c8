"""Ending a measuring process together with every process it started.

Each process of a counting worker (:mod:`lbfgs_impl.measure.engine`) starts its own
process group (``start_new_session=True``) and is ended with the whole group, so nothing
it started outlives a timeout or an interrupted run; and each dies with its parent
(:func:`die_with_parent`), so a measuring process that is killed (SIGKILL, SIGTERM, out
of memory) leaves no counting process working on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess

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
