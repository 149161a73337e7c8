"""Test-only plugin for the callgrind worker: the measuring child records its pid and hangs.

``measure_instructions(..., plugins=["hang_child"])`` with this folder on ``PYTHONPATH`` and
``LBFGS_BENCH_HANG_PIDFILE`` set: each forked child writes its pid there and sleeps, as a
solve that never ends would. The timeout must end it together with its zygote.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_path = os.environ.get("LBFGS_BENCH_HANG_PIDFILE")
if _path:
    Path(_path).write_text(str(os.getpid()))
    while True:
        time.sleep(60)
