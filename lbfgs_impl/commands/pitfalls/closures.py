"""The recompiling pitfalls: optax_while's solve called so that JAX's caches never hit.

* a new function object per call (a ``def`` or ``lambda`` inside the calling function);
* a Python scalar (the iteration limit) that changes every call, passed as a static argument.

Each call is timed and its compilations counted (:mod:`jax.monitoring`), with
``jax.log_compiles`` and ``jax.explain_cache_misses`` on and JAX's own log lines kept.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax

from lbfgs_impl.measure.timing import count_compilations
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers import SolverConfig, while_loop_solve

#: log lines kept per row, and characters per line
LOG_LINES = 12
LOG_CHARS = 400
#: JAX's log line for one finished backend compilation (``jax.log_compiles``)
COMPILED = "Finished XLA compilation of"
MISS = "TRACING CACHE MISS"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def jax_log() -> Iterator[list[str]]:
    """``jax.log_compiles`` and ``jax.explain_cache_misses`` on; JAX's log lines collected, not printed."""
    logger = logging.getLogger("jax")
    keep, propagate = _Keep(), logger.propagate
    logger.addHandler(keep)
    logger.propagate = False
    try:
        with jax.log_compiles(True), jax.explain_cache_misses(True):
            yield keep.lines
    finally:
        logger.removeHandler(keep)
        logger.propagate = propagate


def _tidy(line: str) -> str:
    """One log message on one line, file paths shortened to the package, cut to :data:`LOG_CHARS` in
    the middle: a cache miss's explanation ends with JAX's hint ("maybe the function is being
    re-defined repeatedly"), after a function's repr that can run long (a ``functools.partial``)."""
    text = " / ".join(part.strip() for part in line.splitlines() if part.strip())
    text = re.sub(r"/\S*?/(site-packages/|dist-packages/)", "", text)
    text = re.sub(r"/\S*?/(lbfgs_impl/)", r"\1", text)
    if len(text) <= LOG_CHARS:
        return text
    tail = 150  # the hint and the id/definition before it
    return text[: LOG_CHARS - tail - 3] + "..." + text[-tail:]


def log_summary(lines: list[str]) -> dict[str, Any]:
    """What JAX said: compilations and cache misses it logged, and an excerpt of the telling lines."""
    telling = [line for line in lines if MISS in line or line.startswith("Compiling ")]
    return {
        "compilations_logged": sum(COMPILED in line for line in lines),
        "cache_misses_logged": sum(MISS in line for line in lines),
        "lines_logged": len(lines),
        "excerpt": [_tidy(line) for line in telling[:LOG_LINES]],
    }


def _calls(solve_once: Callable[[int], Any], calls: int) -> dict[str, Any]:
    samples, compilations, outs = [], [], []
    with jax_log() as lines:
        for i in range(calls):
            with count_compilations() as log:
                t0 = time.perf_counter()
                out = jax.block_until_ready(solve_once(i))
                samples.append(time.perf_counter() - t0)
            compilations.append(log.n_compilations)
            outs.append(out)
    n_iter = [int(jax.device_get(o.n_iter)) for o in outs]
    return {
        "seconds": statistics.median(samples),
        "samples": samples,
        "calls": calls,
        "n_compilations": sum(compilations),
        "compilations_per_call": compilations,
        "n_iter": n_iter[-1],
        "n_iter_per_call": n_iter,
        "n_fev": int(jax.device_get(outs[-1].n_fev)),
        "jax_log": log_summary(lines),
    }


def new_function_per_call(problem: Problem, config: SolverConfig, calls: int) -> dict[str, Any]:
    """Each call wraps the objective in a new ``def`` and jits the solve around it."""

    def solve_once(i: int) -> Any:
        def objective(x: jax.Array, data: Any) -> jax.Array:  # a new function object every call
            return problem.objective(x, data)

        solve = functools.partial(
            while_loop_solve,
            objective=objective,
            gtol=config.gtol,
            maxiter=config.maxiter,
            memory_size=config.memory_size,
        )
        return jax.jit(solve)(problem.x0, problem.data)

    return _calls(solve_once, calls)


def scalar_per_call(problem: Problem, config: SolverConfig, calls: int) -> dict[str, Any]:
    """One jitted solve, called with a different Python int as its static iteration limit each time."""
    solve = jax.jit(while_loop_solve, static_argnames=("objective", "gtol", "maxiter", "memory_size"))

    def solve_once(i: int) -> Any:
        return solve(
            problem.x0,
            problem.data,
            objective=problem.objective,
            gtol=config.gtol,
            maxiter=config.maxiter + i,  # the Python scalar that changes
            memory_size=config.memory_size,
        )

    return _calls(solve_once, calls)
