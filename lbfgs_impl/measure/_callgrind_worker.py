"""The zygote run under callgrind by :func:`lbfgs_impl.measure.instructions.measure_instructions`.

``python -m lbfgs_impl.measure._callgrind_worker SHIM DIR [--compile] [--plugin=MODULE ...]``
imports JAX, Optax and SciPy once (without starting JAX's backend), then for
each job in ``DIR/jobs.json`` forks a child that builds, compiles and warms the
solve, counts one ``run()`` between callgrind client requests and writes
``DIR/<job id>.json``. Not a public interface.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import jax  # noqa: F401  (imported once here, so every child starts with it loaded)
import optax  # noqa: F401
import scipy.optimize  # noqa: F401

import lbfgs_impl  # noqa: F401  (float64)
from lbfgs_impl.measure.processes import die_with_parent
from lbfgs_impl.measure.timing import jax_backend_initialized
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def _measure(shim: ctypes.CDLL, job: dict[str, Any], count_compile: bool) -> dict[str, Any]:
    spec = job["spec"]
    problem = make_problem(spec["problem"], spec["n"])
    prepared = get_solver(spec["solver"]).prepare(problem, SolverConfig(**spec["config"]))
    if count_compile:
        gc.collect()
        gc.disable()
        shim.lbfgs_bench_start()
        prepared.compile()
        shim.lbfgs_bench_stop(f"{job['id']}:compile".encode())
        gc.enable()
    else:
        prepared.compile()
    prepared.run()  # warm-up, uninstrumented
    gc.collect()
    gc.disable()
    shim.lbfgs_bench_start()
    raw = prepared.run()
    shim.lbfgs_bench_stop(f"{job['id']}:solve".encode())
    gc.enable()
    result = prepared.result(raw)
    return {
        "n_iter": result.n_iter,
        "n_fev": result.n_fev,
        "converged": result.converged,
        "status": result.status,
        "on_valgrind": bool(shim.lbfgs_bench_running_on_valgrind()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbfgs_impl.measure._callgrind_worker")
    parser.add_argument("shim")
    parser.add_argument("directory")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--plugin", action="append", default=[])
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    shim = ctypes.CDLL(args.shim)
    if jax_backend_initialized():  # forking a process with XLA's threads running is unsafe
        print("zygote: JAX's backend started before forking", file=sys.stderr)
        return 1
    for job in json.loads((directory / "jobs.json").read_text()):
        sys.stdout.flush()
        zygote = os.getpid()
        pid = os.fork()
        if pid == 0:
            die_with_parent(zygote)  # a zygote that is killed takes the measurement with it
            try:
                for module in args.plugin:
                    importlib.import_module(module)
                doc = _measure(shim, job, args.compile)
            except Exception as exc:  # a failed solve is a recorded outcome
                doc = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            _write(directory / f"{job['id']}.json", doc)
            sys.stdout.flush()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0 and not (directory / f"{job['id']}.json").exists():
            _write(directory / f"{job['id']}.json", {"error": f"child process ended with status {status}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
