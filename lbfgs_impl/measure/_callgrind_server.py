"""A long-lived zygote under callgrind, fed jobs one line at a time (for :mod:`lbfgs_impl.measure.cluster`).

``python -m lbfgs_impl.measure._callgrind_server SHIM [--compile] [--plugin=MODULE ...]``
imports JAX, Optax and SciPy once (through :mod:`lbfgs_impl.measure._callgrind_worker`,
whose measurement it reuses), then reads jobs from stdin, one JSON object a line:
``{"id": ..., "spec": {...}, "dir": DIR}``. For each it forks a child that measures the
job exactly as the batch zygote does and writes ``DIR/<id>.json``; once the child has
ended the zygote writes ``DIR/<id>.done`` with the child's pid (callgrind names the
child's dump files after it) and its exit status. End of stdin ends the zygote.
Every child dies with its zygote (``PR_SET_PDEATHSIG``), so killing the zygote's
process group leaves nothing behind. Not a public interface.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import sys
import traceback
from pathlib import Path

from lbfgs_impl.measure._callgrind_worker import _measure, _write
from lbfgs_impl.measure.processes import die_with_parent
from lbfgs_impl.measure.timing import jax_backend_initialized


def _serve_one(shim: ctypes.CDLL, job: dict, count_compile: bool, plugins: list[str]) -> None:
    import os

    directory = Path(job["dir"])
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        die_with_parent()
        try:
            for module in plugins:
                importlib.import_module(module)
            doc = _measure(shim, job, count_compile)
        except Exception as exc:  # a failed solve is a recorded outcome
            doc = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        _write(directory / f"{job['id']}.json", doc)
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0 and not (directory / f"{job['id']}.json").exists():
        _write(directory / f"{job['id']}.json", {"error": f"child process ended with status {status}"})
    _write(directory / f"{job['id']}.done", {"pid": pid, "status": status})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbfgs_impl.measure._callgrind_server")
    parser.add_argument("shim")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--plugin", action="append", default=[])
    args = parser.parse_args(argv)
    die_with_parent()
    shim = ctypes.CDLL(args.shim)
    if jax_backend_initialized():  # forking a process with XLA's threads running is unsafe
        print("zygote: JAX's backend started before forking", file=sys.stderr)
        return 1
    print("zygote: ready", flush=True)
    for line in sys.stdin:
        if line.strip():
            _serve_one(shim, json.loads(line), args.compile, args.plugin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
