"""Test-only pytest plugin: make one solver several times slower, for real.

Load with ``-p perf_slowdown`` (this folder on ``PYTHONPATH``) and set
``LBFGS_BENCH_SLOWDOWN=solver:factor``: every ``run()`` of that solver then
performs the complete solve ``factor`` times. Product code is untouched; the
perf suite's regression gate must catch the slowdown.
"""

from __future__ import annotations

import os
from typing import Any

from lbfgs_impl.solvers import SOLVERS


class _Repeated:
    def __init__(self, prepared: Any, factor: int):
        self._prepared, self._factor = prepared, factor

    def compile(self) -> Any:
        return self._prepared.compile()

    def run(self) -> Any:
        for _ in range(self._factor):
            raw = self._prepared.run()
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
        return _Repeated(original(problem, solver_config), int(factor))

    solver.prepare = slowed_prepare  # type: ignore[method-assign]
