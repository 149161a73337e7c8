"""The arithmetic floor's probes: one value_and_grad, and one L-BFGS two-loop recursion, inside XLA.

Each probe is a pseudo-solver whose ``run()`` executes K dependent repetitions
in one jitted ``fori_loop`` (``<name>_x1``: K = :data:`PROBE_REPEATS`, ``<name>_x2``:
2K); the difference of the two instruction counts divided by K is the cost of
one repetition with the dispatch cancelled out. They are registered in the solver table only inside the
callgrind children, by importing :mod:`lbfgs_impl.commands.explain._probe_plugin`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers.base import Result, SolverBase, SolverConfig, StageTimes, aot_compile

EVALUATION = "_floor_evaluation"
ALGEBRA = "_floor_algebra"
PROBE_REPEATS = 200  # K; the probe runs at K and 2K (large K: the runtime's jitter is < 1 per cent)


def _evaluations(objective: Any, count: int) -> Any:
    """K chained value_and_grad evaluations: each moves x by a small step along the *whole* gradient.

    Feeding back only ``grad[0]`` would let XLA compute one gradient element (the
    report's floor had that flaw); a step along every element keeps the full
    gradient live, and the value is accumulated so it is computed too. Starts at
    ``x0 + 0.5``, a typical point rather than the start (Rosenbrock's x0 = 0).
    """

    def run(x, data):
        def body(i, carry):
            x, acc = carry
            value, grad = jax.value_and_grad(objective)(x, data)
            return x - 1e-6 * grad, acc + value

        return jax.lax.fori_loop(0, count, body, (x + 0.5, jnp.zeros((), x.dtype)))

    return run


def two_loop(g: jax.Array, s: jax.Array, y: jax.Array, rho: jax.Array | None = None) -> jax.Array:
    """The L-BFGS direction ``-H g`` from ``m`` pairs ``s, y`` of shape ``(m, n)`` (newest last).

    ``rho`` (shape ``(m,)``, ``1 / s_i.y_i``) is computed from the pairs when not given.
    """
    if rho is None:
        rho = 1.0 / jnp.sum(s * y, axis=1)

    def back(i, carry):
        q, alpha = carry
        j = s.shape[0] - 1 - i
        a = rho[j] * jnp.dot(s[j], q)
        return q - a * y[j], alpha.at[j].set(a)

    q, alpha = jax.lax.fori_loop(0, s.shape[0], back, (g, jnp.zeros(s.shape[0], g.dtype)))
    r = q * (jnp.dot(s[-1], y[-1]) / jnp.dot(y[-1], y[-1]))

    def forward(j, r):
        b = rho[j] * jnp.dot(y[j], r)
        return r + (alpha[j] - b) * s[j]

    return -jax.lax.fori_loop(0, s.shape[0], forward, r)


def _algebra(count: int) -> Any:
    """K dependent recursions. ``rho`` is computed once, outside the loop, as a solver that keeps it
    would (Optax keeps its ``weights_memory``). XLA hoists a rho written inside the loop out of it
    anyway (same HLO, checked with jax 0.10.2), and with it the two dots of the initial scaling,
    which a solver pays every iteration: the probe slightly undercounts, as a floor should."""

    def run(g, s, y):
        rho = 1.0 / jnp.sum(s * y, axis=1)

        def body(i, g):
            d = two_loop(g, s, y, rho)
            return g + 1e-300 * d  # the next pass depends on this one

        return jax.lax.fori_loop(0, count, body, g)

    return run


class _ProbePrepared:
    def __init__(self, fn: Any, args: tuple[Any, ...], count: int):
        self._fn, self._args, self._count = fn, args, count
        self._compiled: Any = None

    def compile(self) -> StageTimes:
        if self._compiled is None:
            self._compiled, _ = aot_compile(self._fn, *self._args)
        return StageTimes(0.0, 0.0)

    def run(self) -> Any:
        self.compile()
        return jax.block_until_ready(self._compiled(*self._args))

    def result(self, raw: Any) -> Result:
        x = np.zeros(1)
        return Result(x, 0.0, 0.0, self._count, self._count, True, "probe")


class EvaluationProbe(SolverBase):
    name = EVALUATION
    description = "K dependent value_and_grad evaluations in one jitted fori_loop"

    def __init__(self, count: int = PROBE_REPEATS):
        self.count = count

    def prepare(self, problem: Problem, config: SolverConfig) -> _ProbePrepared:
        fn = _evaluations(problem.objective, self.count)
        return _ProbePrepared(fn, (problem.x0, problem.data), self.count)


class AlgebraProbe(SolverBase):
    name = ALGEBRA
    description = "K dependent L-BFGS two-loop recursions (m = memory_size) in one jitted fori_loop"

    def __init__(self, count: int = PROBE_REPEATS):
        self.count = count

    def prepare(self, problem: Problem, config: SolverConfig) -> _ProbePrepared:
        n, m = problem.x0.shape[0], config.memory_size
        rng = np.random.default_rng(0)
        s = rng.standard_normal((m, n))
        y = s + 0.1 * rng.standard_normal((m, n))  # s.y > 0
        args = (jnp.asarray(rng.standard_normal(n)), jnp.asarray(s), jnp.asarray(y))
        return _ProbePrepared(_algebra(self.count), args, self.count)


def probe_name(kind: str, multiple: int) -> str:
    """The solver name of probe ``kind`` (:data:`EVALUATION`, :data:`ALGEBRA`) at ``multiple`` x K."""
    return f"{kind}_x{multiple}"


def register() -> None:
    """Add the probes to the solver table (only the callgrind children do this)."""
    from lbfgs_impl.solvers import SOLVERS

    for cls in (EvaluationProbe, AlgebraProbe):
        for multiple in (1, 2):
            probe = cls(multiple * PROBE_REPEATS)
            probe.name = probe_name(cls.name, multiple)
            SOLVERS[probe.name] = probe
