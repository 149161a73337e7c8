"""The counted process of a :class:`lbfgs_impl.measure.engine.CountingWorker` (not a public interface).

``valgrind --tool=callgrind ... python -m lbfgs_impl.measure._counter SHIM DIR [--plugin=MODULE ...]``
imports JAX, Optax and SciPy and starts JAX's backend once, writes ``DIR/ready.json`` (the versions
that change a count, read in this process), then reads jobs from stdin, one JSON object a line:
``{"id", "spec", "aot": PATH, "compile": bool, "out": PATH}``. For each it loads the executables the
builder wrote to ``aot`` (it traces, lowers and compiles nothing unless the compile is counted),
warms the solve up uninstrumented and counts one run between client requests (dump ``<id>:solve``;
with ``compile``, ``<id>:compile`` before it), then writes ``out``. End of stdin ends it.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import json
import os
import pickle
import platform
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import jax
import optax  # noqa: F401
import scipy.optimize  # noqa: F401

import lbfgs_impl  # noqa: F401  (float64)
from lbfgs_impl.measure import native_aot
from lbfgs_impl.measure.environment import package_versions
from lbfgs_impl.measure.processes import die_with_parent
from lbfgs_impl.measure.timing import count_compilations
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver
from lbfgs_impl.solvers.base import set_aot_hook

#: Seconds of quiet before switching instrumentation on: work XLA's thread pool does after the last
#: warm-up returned (releasing buffers) is done before counting starts.
QUIET_S = 0.2

#: Uninstrumented solves before the counted one: CPython specializes the bytecode of a code path
#: over its first runs, and valgrind translates the code it meets for the first time.
WARM_UP_RUNS = 2


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def environment(shim: ctypes.CDLL) -> dict[str, Any]:
    """The versions that change a count, as this process sees them (under valgrind: its CPU too)."""
    from lbfgs_impl.records import os_image

    glibc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else None
    return {
        "python": platform.python_version(),
        "versions": package_versions(),
        "glibc": glibc,
        "os_image": os_image(),
        "arch": platform.machine(),
        "target_isa": native_aot.TARGET_ISA,
        "cpu_features": sorted(native_aot.cpu_features(native_aot.shim_cpuid(shim))),
        "on_valgrind": bool(shim.lbfgs_bench_running_on_valgrind()),
    }


#: Longest wait for the other threads to go quiet (a pool thread that never sleeps is not waited for).
QUIET_LIMIT_S = 5.0


def _others_cpu_ticks() -> int:
    """CPU ticks (user + system) of every thread of this process but the calling one."""
    own, total = threading.get_native_id(), 0
    for task in os.listdir("/proc/self/task"):
        if int(task) == own:
            continue
        try:
            fields = Path(f"/proc/self/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _quiet() -> None:
    """Sleep until XLA's other threads have done what they had left (their CPU time stops growing):
    under load a fixed pause was sometimes too short, and their leftover work was counted."""
    time.sleep(QUIET_S)
    deadline = time.monotonic() + QUIET_LIMIT_S
    last = _others_cpu_ticks()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = _others_cpu_ticks()
        if now == last:
            return
        last = now


def _counted(shim: ctypes.CDLL, name: str, fn: Any) -> Any:
    # the requests and the name are looked up before counting starts: ctypes resolves a symbol on its
    # first use (Python code, dlsym), which would otherwise be counted in the first task only
    start, stop, dump = shim.lbfgs_bench_start, shim.lbfgs_bench_stop, name.encode()
    gc.collect()
    gc.disable()
    try:
        _quiet()  # XLA's pool finishes what the last warm-up left (buffer release) uncounted
        start()
        out = fn()
        stop(dump)
    finally:
        gc.enable()
    return out


def measure(shim: ctypes.CDLL, job: dict[str, Any]) -> dict[str, Any]:
    """One job; ``compiled_here``: XLA compilations in this process besides a counted compile (0 when
    everything the solve and the problem needed was loaded)."""
    counted_compile = None
    if job.get("compile"):  # counted here, for valgrind's CPU; the solve still runs the native build
        spec = job["spec"]
        other = get_solver(spec["solver"]).prepare(
            make_problem(spec["problem"], spec["n"]), SolverConfig(**spec["config"])
        )
        counted_compile = _counted(shim, f"{job['id']}:compile", other.compile)
    with count_compilations() as log:
        doc = _measure(shim, job)
    return {**doc, "compiled_here": log.n_compilations, "counted_compile": counted_compile is not None}


def _measure(shim: ctypes.CDLL, job: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    built = pickle.loads(Path(job["aot"]).read_bytes())
    spec = job["spec"]
    config = SolverConfig(**spec["config"])
    problem = make_problem(spec["problem"], spec["n"])
    prepared = get_solver(spec["solver"]).prepare(problem, config)
    loader = native_aot.Loader(built["executables"])
    set_aot_hook(loader)
    try:
        prepared.compile()
        t1 = time.perf_counter()
        for _ in range(WARM_UP_RUNS):
            jax.block_until_ready(prepared.run())  # and dropped here, not inside the counted call
        t2 = time.perf_counter()
        raw = _counted(shim, f"{job['id']}:solve", prepared.run)
        t3 = time.perf_counter()
    finally:
        set_aot_hook(None)
    path = native_aot.solve_path(raw)
    same = path is not None and built["path"] is not None and native_aot.same_path(path, built["path"])
    if same:
        outcome = dict(built["result"])
    else:  # another path than the native run: its own result, computed here
        outcome = native_aot.ended(prepared, raw, spec.get("evaluations", True))
    seconds = {
        "load_s": t1 - t0,
        "warm_up_s": t2 - t1,
        "counted_s": t3 - t2,
        "result_s": time.perf_counter() - t3,
    }
    return {**outcome, "same_path_as_native": same, "executables_loaded": loader.loaded,
            "compiled_by_solver": loader.compiled_here, "seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbfgs_impl.measure._counter")
    parser.add_argument("shim")
    parser.add_argument("directory")
    parser.add_argument("--plugin", action="append", default=[])
    args = parser.parse_args(argv)
    die_with_parent()
    shim = ctypes.CDLL(args.shim)
    for module in args.plugin:
        importlib.import_module(module)
    jax.block_until_ready(jax.numpy.zeros(1) + 1)  # the backend starts here, once
    _write(Path(args.directory) / "ready.json", environment(shim))
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            doc = measure(shim, job)
        except Exception as exc:  # a failed solve is a recorded outcome
            doc = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        _write(Path(job["out"]), doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
