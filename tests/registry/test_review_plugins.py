"""A plugin problem that would make every solver fail, or silently change the problem, is refused up front."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from lbfgs_impl.problems.user import user_problem
from lbfgs_impl.registry import PluginError


def _refused(f, n: int | None = 4) -> str:
    with pytest.raises(PluginError) as exc:
        user_problem(f, "user", n, {}, "mod:f")
    message = str(exc.value)
    assert len(message.splitlines()) == 1 and message.startswith("mod:f: ")
    return message


def test_an_objective_that_leaks_a_tracer_is_refused():
    """A tracer kept from one trace (a module-level cache) fails every later compiled call: bad input."""
    cache: dict[str, object] = {}

    def cached(x):
        if "c" not in cache:
            cache["c"] = jnp.sum(x)
        return jnp.sum((x - 1.0) ** 2) + 0 * cache["c"]

    assert "leaks a tracer" in _refused(cached)


def test_a_complex_start_is_refused_not_cast_to_its_real_part():
    def f(x):
        return jnp.sum(x**2)

    f.x0 = np.array([1 + 1j, 2.0, 3.0])
    assert "x0 must be a 1-D array of real numbers" in _refused(f, None)


def test_a_float32_objective_is_refused_the_suite_compares_in_float64():
    def f(x):
        return jnp.sum(x.astype(jnp.float32) ** 2)

    assert "returns float32, expected a float64 scalar" in _refused(f)


def test_a_float64_objective_and_an_integer_start_are_accepted():
    def f(x):
        return jnp.sum((x - 1.0) ** 2)

    f.x0 = [1, 2, 3]
    problem = user_problem(f, "user", None, {}, "mod:f")
    assert problem.x0.dtype == jnp.float64 and list(np.asarray(problem.x0)) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "n_iter", [2.5, -1, True, np.array([3])], ids=["float", "negative", "bool", "shape-1"]
)
def test_a_host_solver_whose_n_iter_is_not_a_count_fails_its_row(n_iter):
    """As for a jittable solve: the iterations figure is an integer scalar >= 0, never truncated or cast."""
    from lbfgs_impl.solvers import SolveState, host_solver
    from lbfgs_impl.solvers.base import SolverConfig

    def f(x):
        return jnp.sum((x - 1.0) ** 2)

    @host_solver("odd_count", "returns the start and an odd n_iter")
    def odd(value_and_grad, x0, config):
        value_and_grad(x0)
        return SolveState(x0 + 1.0, n_iter)

    prepared = odd.prepare(user_problem(f, "user", 3, {}, "mod:f"), SolverConfig())
    with pytest.raises(ValueError, match=r"n_iter .* expected an integer >= 0"):
        prepared.result(prepared.run())
