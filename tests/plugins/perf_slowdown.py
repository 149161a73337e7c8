"""Test-only pytest plugin: make one solver several times slower, for real.

Load with ``-p perf_slowdown`` (this folder on ``PYTHONPATH``) and set
``LBFGS_BENCH_SLOWDOWN=solver:factor``: every ``run()`` of that solver then
performs the complete solve ``int(factor)`` times, and for a fractional part
waits that fraction of one solve's time more (``optax_while:1.25``: one solve,
then a quarter of its duration). Product code is untouched; the regression
checks must catch the slowdown.
"""

from __future__ import annotations

import os
import time
from typing import Any

from lbfgs_impl.solvers import SOLVERS


class _Repeated:
    def __init__(self, prepared: Any, factor: float):
        self._prepared, self._factor = prepared, factor

    def compile(self) -> Any:
        return self._prepared.compile()

    def run(self) -> Any:
        whole, fraction = divmod(self._factor, 1.0)
        for _ in range(max(1, int(whole))):
            t0 = time.perf_counter()
            raw = self._prepared.run()
            elapsed = time.perf_counter() - t0
        if fraction:
            time.sleep(fraction * elapsed)
        return raw

    def result(self, raw: Any) -> Any:
        return self._prepared.result(raw)


def pytest_configure(config: Any) -> None:
    spec = os.environ.get("LBFGS_BENCH_SLOWDOWN")
    if not spec:
        return
    name, factor = spec.split(":")
    solver = SOLVERS[name]
    original = solver.prepare

    def slowed_prepare(problem: Any, solver_config: Any) -> _Repeated:
        return _Repeated(original(problem, solver_config), float(factor))

    solver.prepare = slowed_prepare  # type: ignore[method-assign]
