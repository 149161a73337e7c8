"""Test-only plugin for the callgrind worker: the second measuring child kills its zygote.

``measure_instructions(..., plugins=["kill_zygote_once"])`` with this folder on ``PYTHONPATH``
and ``LBFGS_BENCH_KILL_ZYGOTE_MARKER`` set to a path that does not exist yet. Each child
appends a line to the marker as it starts; the second child SIGKILLs its zygote (as the OOM
killer would) and exits before measuring; every other child measures normally. So the first
job finishes in the first zygote, the second dies with it, and a replacement runs the rest.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_marker = os.environ.get("LBFGS_BENCH_KILL_ZYGOTE_MARKER")
if _marker:
    path = Path(_marker)
    seen = len(path.read_text().splitlines()) if path.exists() else 0
    with path.open("a") as f:
        f.write(f"{os.getpid()}\n")
    if seen == 1:
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(1)
