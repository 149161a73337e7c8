"""The seed variants and the peers are solves of the public protocol, measured by the suite's own rule."""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lbfgs_impl.measure.timing import timed_run
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import BUILTIN_SOLVERS, HostSolver, JaxSolver, SolverConfig, get_solver
from lbfgs_impl.solvers.base import _COUNTS
from lbfgs_impl.solvers.optax_lbfgs import optax_loop, optax_loop_setup, optax_while, while_loop_solve
from lbfgs_impl.solvers.protocol import SolveState, host_solver
from lbfgs_impl.solvers.scipy_lbfgsb import scipy_lbfgsb

CONFIG = SolverConfig()


def test_every_builtin_solver_is_a_plain_function_of_the_public_protocol():
    for name in BUILTIN_SOLVERS:
        solver = get_solver(name)
        assert isinstance(solver, JaxSolver | HostSolver), name
        assert inspect.isfunction(solver.fn), name
    scipy, loop, whole = get_solver("scipy"), get_solver("optax_loop"), get_solver("optax_while")
    assert (scipy.fn, scipy.setup, scipy.observes) == (scipy_lbfgsb, None, True)
    assert (loop.fn, loop.setup, loop.observes) == (optax_loop, optax_loop_setup, True)
    assert isinstance(whole, JaxSolver) and whole.fn is optax_while


@pytest.fixture(scope="module")
def problem():
    return make_problem("rosenbrock", 8)


@pytest.fixture(scope="module")
def loop(problem):
    """optax_loop compiled (its stages), run once timed, and its result."""
    prepared = get_solver("optax_loop").prepare(problem, CONFIG)
    stages = prepared.compile()
    _, raw = timed_run(prepared)  # raises if anything compiled inside
    return prepared, stages, raw, prepared.result(raw)


def test_the_suite_counts_what_the_optax_loops_count_themselves(problem, loop):
    _, _, (state, host_calls), result = loop
    assert host_calls == 0  # its evaluations are inside its compiled steps: counted by the suite's solve
    assert result.converged and (result.n_iter, result.n_fev) == (state.n_iter, int(state.n_fev))
    assert result.n_fev > result.n_iter
    assert result.value == pytest.approx(float(state.value), rel=1e-12, abs=1e-300)

    settings = {"gtol": CONFIG.gtol, "maxiter": CONFIG.maxiter, "memory_size": CONFIG.memory_size}
    own = jax.jit(functools.partial(while_loop_solve, objective=problem.objective, **settings))(
        problem.x0, problem.data
    )
    whole = get_solver("optax_while").solve(problem, CONFIG)
    assert whole.converged and (whole.n_iter, whole.n_fev) == (int(own.n_iter), int(own.n_fev))
    assert (whole.n_iter, whole.n_fev) == (result.n_iter, result.n_fev)  # one algorithm, two drivers


def test_optax_loop_compiles_its_steps_ahead_and_nothing_while_timed(loop):
    prepared, stages, _, _ = loop
    assert stages.trace_lower_s > 0 and stages.compile_s > 0
    assert prepared.compile() is stages  # idempotent


def test_the_observed_optax_loop_sees_every_iteration(loop):
    prepared, _, _, result = loop
    seen: list[tuple[float, float]] = []
    observed = prepared.result(prepared.run(observe=lambda v, g: seen.append((v, g))))
    assert observed.n_iter == result.n_iter and len(seen) == result.n_iter
    assert seen[-1] == pytest.approx((result.value, result.grad_inf_norm), rel=1e-12, abs=1e-300)
    with pytest.raises(TypeError, match="takes no observe"):
        _descent.prepare(make_problem("quadratic", 4), CONFIG).run(observe=print)


def _descent_setup(objective, x0, data, config, compile):
    def step(x, data):  # one gradient step: one evaluation of value_and_grad
        value, grad = jax.value_and_grad(objective)(x, data)
        return x - 1e-4 * grad, value

    return compile(step, x0, data), data


@host_solver("descent_steps", setup=_descent_setup)
def _descent(steps, x0, config):
    """``maxiter`` steps of gradient descent; claims to have done one."""
    step, data = steps
    x = x0
    for _ in range(config.maxiter):
        x, _ = step(x, data)
    return SolveState(x, 1)


def test_a_host_solver_with_steps_of_its_own_is_counted_and_judged_by_the_suite():
    problem = make_problem("quadratic", 4)
    prepared = _descent.prepare(problem, CONFIG._replace(maxiter=10))
    result = prepared.result(prepared.run())
    assert result.n_fev == 10  # the suite's counter, not the solver's word
    value, grad = problem.value_and_grad(jnp.asarray(result.x))
    assert result.value == pytest.approx(float(value), rel=1e-12)
    assert result.grad_inf_norm == pytest.approx(float(jnp.max(jnp.abs(grad))), rel=1e-12)
    assert result.converged == (result.grad_inf_norm <= CONFIG.gtol)
    np.testing.assert_array_equal(result.x, np.asarray(prepared.run()[0].x))


def test_a_counting_solve_runs_once_per_problem_solver_and_config():
    problem = make_problem("quadratic", 4)
    ten, five = CONFIG._replace(maxiter=10), CONFIG._replace(maxiter=5)
    first = _descent.prepare(problem, ten)
    assert first.result(first.run()).n_fev == 10
    held = dict(_COUNTS[problem])
    again = _descent.prepare(problem, ten)
    assert again.result(again.run()).n_fev == 10
    assert dict(_COUNTS[problem]) == held  # nothing counted twice
    other = _descent.prepare(problem, five)
    assert other.result(other.run()).n_fev == 5  # another config: counted again, its own count


def test_outcome_is_the_result_without_the_counting_solve(loop):
    prepared, _, raw, result = loop
    ended = prepared.outcome(raw)  # what break-even's children ask: where the solve ended
    assert ended.n_fev == -1 and ended._replace(n_fev=result.n_fev)[1:] == result[1:]
    scipy = get_solver("scipy").prepare(make_problem("rosenbrock", 8), CONFIG)
    plain = scipy.run()
    ended, full = scipy.outcome(plain), scipy.result(plain)
    assert ended[1:] == full[1:] and full.n_fev > 0  # its calls were counted as they happened
    np.testing.assert_array_equal(ended.x, full.x)


@pytest.mark.parametrize("name", ["optax_loop", "optax_while"])
def test_a_first_calls_result_compiles_nothing_once_the_problem_was_solved(problem, name):
    # what a first-call benchmark times around each sample (perf, asv): its result() after caches are
    # cleared must not compile the final point's evaluation or count again
    from lbfgs_impl.measure.timing import assert_no_compilations, clear_jax_caches

    get_solver(name).solve(problem, CONFIG)  # the benchmarks' untimed warm-up
    clear_jax_caches()
    prepared = get_solver(name).prepare(problem, CONFIG)
    prepared.compile()
    raw = prepared.run()
    with assert_no_compilations(f"{name}'s result"):
        assert prepared.result(raw).converged
