"""Test-only plugin for the counting worker: the counted process records its pid and hangs.

``measure_instructions(..., plugins=["hang_counter"])`` with this folder on ``PYTHONPATH`` and
``LBFGS_BENCH_HANG_PIDFILE`` set: in the counted process (not the native builder), the first task
writes the process's pid there and sleeps, as a solve that never ends would. The task's limit (or
the end of the measuring process) must end it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_path = os.environ.get("LBFGS_BENCH_HANG_PIDFILE")
_main = sys.modules.get("__main__")
if _path and getattr(getattr(_main, "__spec__", None), "name", "") == "lbfgs_impl.measure._counter":

    def _hang(shim, job):  # type: ignore[no-untyped-def]
        Path(_path).write_text(str(os.getpid()))
        while True:
            time.sleep(60)

    _main.measure = _hang  # type: ignore[union-attr]
