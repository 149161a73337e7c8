"""Test-only plugin for the counting worker: the counted process dies on its first task, once.

``count_instructions(..., plugins=["kill_counter_once"])`` with this folder on ``PYTHONPATH`` and
``LBFGS_BENCH_KILL_COUNTER_MARKER`` set to a path that does not exist yet. In the counted process
(not the native builder) the first task to reach it creates the marker and SIGKILLs the process
before counting, as the OOM killer would; every later task, in any process, counts normally.
"""

from __future__ import annotations

import os
import signal
import sys

_marker = os.environ.get("LBFGS_BENCH_KILL_COUNTER_MARKER")
_main = sys.modules.get("__main__")
if _marker and getattr(getattr(_main, "__spec__", None), "name", "") == "lbfgs_impl.measure._counter":
    _measure = _main.measure  # type: ignore[union-attr]

    def _measure_or_die(shim, job):  # type: ignore[no-untyped-def]
        try:
            fd = os.open(_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return _measure(shim, job)
        os.write(fd, f"{os.getpid()} {job['spec']['solver']}\n".encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        return None

    _main.measure = _measure_or_die  # type: ignore[union-attr]
