"""The native builder of a :class:`lbfgs_impl.measure.engine.CountingWorker` (not a public interface).

``python -m lbfgs_impl.measure._builder [--plugin=MODULE ...]``, started with the target's
``XLA_FLAGS`` (:data:`lbfgs_impl.measure.native_aot.NATIVE_XLA_FLAGS`), imports JAX once, then reads
jobs from stdin, one JSON object a line: ``{"spec": {...}, "out": PATH}``. For each it compiles the
task's solve natively, runs it (:func:`lbfgs_impl.measure.native_aot.capture`) and writes ``PATH``
(the serialized executables and the final point, a pickle), then ``PATH`` with ``.json`` (the native
result, the solve's native seconds, the executables' target features, or the error): the worker
waits for the latter. With ``"valgrind_cpu"`` (the features valgrind's CPU reports) in the job, an
executable whose machine code holds an instruction of a feature outside them is an error, never a
count. End of stdin ends the builder.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pickle
import sys
import time
import traceback
from pathlib import Path

import lbfgs_impl  # noqa: F401  (float64)
from lbfgs_impl.measure import native_aot
from lbfgs_impl.measure.processes import die_with_parent


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def check_isa(executables: list, valgrind_cpu: set[str]) -> tuple[list[str], str | None]:
    """The executables' target features, and why they must not be counted: an instruction of a
    feature valgrind's CPU lacks in their machine code (:func:`native_aot.instructions_outside`), or
    machine code whose target cannot be read."""
    features: set[str] = set()
    for serialized, _, _ in executables:
        try:
            features.update(native_aot.target_features(serialized))
        except ValueError:
            if native_aot.elf_objects(serialized):
                return sorted(features), "an executable's machine code has no target feature list"
            continue  # no machine code of its own: nothing to check
        found = native_aot.instructions_outside(serialized, valgrind_cpu)
        if found:
            first = "; ".join(f"{f}: {lines[0]}" for f, lines in sorted(found.items()))
            return sorted(features), f"the executable uses instructions valgrind's CPU lacks ({first})"
    return sorted(features), None


def build_one(spec: dict, out: Path, valgrind_cpu: set[str] | None = None) -> None:
    t0 = time.perf_counter()
    try:
        doc = native_aot.capture(spec)
        features, bad = check_isa(doc["executables"], valgrind_cpu) if valgrind_cpu else ([], None)
        if bad:
            raise RuntimeError(bad)
        _write(out, pickle.dumps({k: doc[k] for k in ("executables", "path", "result")}))
        summary = {**doc["result"], "native_run_s": doc["native_run_s"], "target_features": features,
                   "build_s": time.perf_counter() - t0}  # fmt: skip
    except Exception as exc:  # a task that cannot be built is an error of that task
        summary = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    _write(out.with_suffix(".json"), json.dumps(summary).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbfgs_impl.measure._builder")
    parser.add_argument("--plugin", action="append", default=[])
    args = parser.parse_args(argv)
    die_with_parent()
    for module in args.plugin:
        importlib.import_module(module)
    for line in sys.stdin:
        if line.strip():
            job = json.loads(line)
            cpu = job.get("valgrind_cpu")
            build_one(job["spec"], Path(job["out"]), set(cpu) if cpu else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
