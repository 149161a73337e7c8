"""The floor a solve's time cannot go below: its evaluations and its two-loop recursions, timed inside XLA.

* one value-and-gradient evaluation: ``report``'s floor
  (:func:`lbfgs_impl.commands.report.floor.evaluation_floor`, chained evaluations timed by
  difference, ``(t(2N) - t(N)) / N``);
* one L-BFGS two-loop recursion with the solver's memory size: ``explain``'s algebra probe
  (:func:`lbfgs_impl.commands.explain.probes.two_loop`), chained and timed the same way.

A solve of ``n_iter`` iterations and ``n_fev`` evaluations does at least
``n_fev * evaluation + n_iter * two_loop`` of arithmetic; a solve timed below that figure
was not finished when the timer stopped.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.commands.explain.probes import two_loop
from lbfgs_impl.commands.report.floor import evaluation_floor

MAX_COUNT = 200_000


def _chain(count: int) -> Any:
    def run(g: jax.Array, s: jax.Array, y: jax.Array) -> jax.Array:
        rho = 1.0 / jnp.sum(s * y, axis=1)

        def body(i: Any, g: jax.Array) -> jax.Array:
            return g + 1e-300 * two_loop(g, s, y, rho)  # the next recursion depends on this one

        return jax.lax.fori_loop(0, count, body, g)

    return run


def _seconds(run: Any, args: tuple[Any, ...]) -> float:
    t0 = time.perf_counter()
    run(*args).block_until_ready()
    return time.perf_counter() - t0


def two_loop_floor(n: int, memory_size: int, repeats: int = 5, target_s: float = 0.05) -> dict[str, Any]:
    """Seconds of one two-loop recursion on ``memory_size`` pairs of length ``n``, by difference."""
    rng = np.random.default_rng(0)
    s = rng.standard_normal((memory_size, n))
    y = s + 0.1 * rng.standard_normal((memory_size, n))  # s.y > 0
    args = (jnp.asarray(rng.standard_normal(n)), jnp.asarray(s), jnp.asarray(y))

    def compiled(count: int) -> Any:
        run = jax.jit(_chain(count)).lower(*args).compile()
        run(*args).block_until_ready()
        return run

    probe = compiled(10)
    per = min(_seconds(probe, args) for _ in range(3)) / 10
    count = int(min(MAX_COUNT, max(10, target_s / max(per, 1e-9))))
    one, two = compiled(count), compiled(2 * count)
    t1, t2 = [], []
    for _ in range(repeats):
        t1.append(_seconds(one, args))
        t2.append(_seconds(two, args))
    m1, m2 = statistics.median(t1), statistics.median(t2)
    by_difference = m2 > m1
    return {
        "recursions_timed": count,
        "method": "(t(2N) - t(N)) / N" if by_difference else "t(2N) / 2N (the difference was not positive)",
        "seconds_per_recursion": (m2 - m1) / count if by_difference else m2 / (2 * count),
    }


def measure_floor(problem_name: str, n: int, memory_size: int, target_s: float) -> dict[str, Any]:
    """Both parts of the floor, with how each was measured."""
    evaluation = evaluation_floor(problem_name, n, target_s=target_s)
    algebra = two_loop_floor(n, memory_size, target_s=target_s)
    return {
        "source": "report's evaluation floor + explain's two-loop recursion, each timed by difference in XLA",
        "seconds_per_evaluation": evaluation["seconds_per_evaluation"],
        "seconds_per_two_loop": algebra["seconds_per_recursion"],
        "evaluation": evaluation,
        "two_loop": algebra,
    }


def solve_floor(floor: dict[str, Any], n_iter: int, n_fev: int) -> float:
    """Seconds a solve of ``n_iter`` iterations and ``n_fev`` evaluations cannot go below."""
    return n_fev * floor["seconds_per_evaluation"] + n_iter * floor["seconds_per_two_loop"]
