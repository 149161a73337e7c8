"""The floor of ``lbfgs-bench report``: one full objective+gradient evaluation inside XLA.

Each evaluation is a gradient step from the previous point, ``x <- x - eta g(x)
- 1e-300 f(x)``, so every element of the gradient and the value feed the next
evaluation: XLA can neither drop part of the gradient nor hoist the evaluation
out of the loop (tested on the compiled HLO). ``eta`` is tiny, so every
evaluation is at the same typical point, ``x0 + 0.5`` (not ``x0``, where the
seed problems are all zeros). The time is taken by difference, ``(t(2N) -
t(N)) / N``, so the dispatch and the loop's entry cancel.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

from lbfgs_impl.problems import make_problem

STEP = 1e-12  # eta: the iterate moves by ~1e-12 |g| per evaluation, so the point stays typical
OFFSET = 0.5  # the typical point is x0 + OFFSET
MAX_COUNT = 1_000_000


def evaluation_chain(objective: Callable[..., Any], count: int) -> Callable[..., Any]:
    """``run(x, data) -> x`` after ``count`` chained full value+gradient evaluations (jit it)."""

    def run(x: jax.Array, data: Any) -> jax.Array:
        def body(i: Any, x: jax.Array) -> jax.Array:
            value, grad = jax.value_and_grad(objective)(x, data)
            return x - STEP * grad - 1e-300 * value

        return jax.lax.fori_loop(0, count, body, x)

    return run


def _compiled(problem: Any, count: int) -> Any:
    x = problem.x0 + OFFSET
    run = jax.jit(evaluation_chain(problem.objective, count)).lower(x, problem.data).compile()
    run(x, problem.data).block_until_ready()
    return run


def _time(run: Any, x: jax.Array, data: Any) -> float:
    t0 = time.perf_counter()
    run(x, data).block_until_ready()
    return time.perf_counter() - t0


def evaluation_floor(
    problem_name: str, n: int, count: int | None = None, repeats: int = 5, target_s: float = 0.1
) -> dict[str, Any]:
    """Seconds of one full f+g evaluation at ``x0 + 0.5``, by difference of 2N and N chained evaluations.

    Without ``count``, a 10-evaluation probe picks N so that N evaluations take
    about ``target_s`` (10 to 10^6). ``repeats`` interleaved timings of each loop;
    the medians are differenced.
    """
    problem = make_problem(problem_name, n)
    x = problem.x0 + OFFSET
    if count is None:
        probe = _compiled(problem, 10)
        per = min(_time(probe, x, problem.data) for _ in range(3)) / 10
        count = int(min(MAX_COUNT, max(10, target_s / max(per, 1e-9))))
    one, two = _compiled(problem, count), _compiled(problem, 2 * count)
    t1, t2 = [], []
    for _ in range(repeats):
        t1.append(_time(one, x, problem.data))
        t2.append(_time(two, x, problem.data))
    m1, m2 = statistics.median(t1), statistics.median(t2)
    by_difference = m2 > m1
    return {
        "problem": problem_name,
        "n": n,
        "point": f"x0 + {OFFSET}",
        "evaluations_timed": count,
        "method": "(t(2N) - t(N)) / N" if by_difference else "t(2N) / 2N (the difference was not positive)",
        "seconds_N": m1,
        "seconds_2N": m2,
        "seconds_per_evaluation": (m2 - m1) / count if by_difference else m2 / (2 * count),
    }


def overhead_ratio(
    seconds_per_iteration: float, seconds_per_evaluation: float, evals_per_iteration: float
) -> float:
    """The solver's own work per iteration, in evaluations: ``(t_iter - evals_per_iter t_eval) / t_eval``.

    An iteration makes ``evals_per_iteration`` evaluations itself (the line search);
    what is left is bookkeeping, the line search's logic and loop control.
    """
    return (seconds_per_iteration - evals_per_iteration * seconds_per_evaluation) / seconds_per_evaluation
