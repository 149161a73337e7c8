"""Test-only plugin for the callgrind worker: the first measuring child kills its zygote.

``measure_instructions(..., plugins=["kill_zygote_once"])`` with this folder on ``PYTHONPATH``
and ``LBFGS_BENCH_KILL_ZYGOTE_MARKER`` set to a path that does not exist yet: the first child
creates it, SIGKILLs its zygote (as the OOM killer would) and exits; later children (in the
zygote started in its place) find the marker and measure normally.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_marker = os.environ.get("LBFGS_BENCH_KILL_ZYGOTE_MARKER")
if _marker and not Path(_marker).exists():
    Path(_marker).write_text(str(os.getppid()))
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(1)
