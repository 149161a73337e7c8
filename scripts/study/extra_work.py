"""Study-only plugin: real extra compute inside one solver's ``run()``, for detection studies.

``LBFGS_BENCH_EXTRA_WORK=solver:fraction`` (for example ``optax_while:0.05``)
makes every ``run()`` of that solver do its complete solve and then a truncated
solve of ``round(fraction * n_iter)`` iterations from the same start: real
iterations that execute real instructions (a sleep would execute none), about
``fraction`` more work. The truncated solve is compiled in ``compile()``, so
the timed region stays compile-free. Imported by the instruction counter's
children (``plugins=[...]``) and by ``instructions_study.py``'s wall-time runs;
product code is untouched.
"""

from __future__ import annotations

import os
from typing import Any

from lbfgs_impl.solvers import SOLVERS


class _ExtraWork:
    def __init__(self, prepare: Any, problem: Any, config: Any, fraction: float):
        self._prepare, self._problem, self._config, self._fraction = prepare, problem, config, fraction
        self._main = prepare(problem, config)
        self._extra: Any = None
        self.extra_iterations = 0

    def compile(self) -> Any:
        stages = self._main.compile()
        if self._extra is None:
            n_iter = self._main.result(self._main.run()).n_iter
            self.extra_iterations = max(1, round(self._fraction * n_iter))
            self._extra = self._prepare(self._problem, self._config._replace(maxiter=self.extra_iterations))
            self._extra.compile()
        return stages

    def run(self) -> Any:
        self.compile()
        raw = self._main.run()
        self._extra.run()
        return raw

    def result(self, raw: Any) -> Any:
        return self._main.result(raw)


def install(spec: str | None = None) -> None:
    """Wrap the named solver's ``prepare``; ``spec`` defaults to ``$LBFGS_BENCH_EXTRA_WORK``."""
    spec = spec if spec is not None else os.environ.get("LBFGS_BENCH_EXTRA_WORK", "")
    if not spec:
        return
    name, fraction = spec.split(":")
    solver = SOLVERS[name]
    original = solver.prepare

    def prepare_with_extra_work(problem: Any, config: Any) -> _ExtraWork:
        return _ExtraWork(original, problem, config, float(fraction))

    solver.prepare = prepare_with_extra_work  # type: ignore[method-assign]


install()
