"""Ending a measuring process together with every process it started.

A callgrind zygote forks one child per measurement; the child is pinned to the
zygote's CPU (CPU 0 for the first zygote, the nightly's timing CPU). Each zygote
therefore starts its own process group (``start_new_session=True``) and is ended
with the whole group, so no child outlives a timeout or an interrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess


def kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it must lead one); a group already gone is fine."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()
