from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lbfgs_impl.problems import Problem, make_problem, rosenbrock_objective
from lbfgs_impl.solvers import PEER_SOLVERS, SEED_SOLVERS, SolverConfig, get_solver, solve, solver_names


def test_solver_names_are_the_seed_variants_then_the_peers():
    assert SEED_SOLVERS == ("scipy", "optax_loop", "optax_while")
    assert solver_names() == [*SEED_SOLVERS, *PEER_SOLVERS]
    assert PEER_SOLVERS == ("jaxopt_lbfgs", "optimistix_lbfgs", "optimistix_bfgs", "jax_scipy_bfgs")


def test_unknown_solver_lists_valid_names():
    with pytest.raises(ValueError, match="valid solvers: scipy, optax_loop, optax_while, jaxopt_lbfgs"):
        get_solver("lbfgs")


def test_every_solver_converges_on_the_seed_case(seed_results, solver_name):
    r = seed_results[solver_name]
    assert r.converged, r.status
    assert r.grad_inf_norm <= 1e-5
    assert r.value <= 1e-8
    np.testing.assert_allclose(r.x, np.ones(100), atol=1e-4)
    assert r.x.dtype == np.float64
    assert r.status.startswith("converged")


def test_iteration_counts_agree_within_15_percent(seed_results):
    iters = [r.n_iter for r in seed_results.values()]
    assert max(iters) <= 1.15 * min(iters), iters
    # The seed case takes ~500 iterations on every variant (500 scipy, 505 optax).
    assert all(400 <= i <= 600 for i in iters), iters


def test_optax_variants_take_the_same_path(seed_results):
    loop, while_ = seed_results["optax_loop"], seed_results["optax_while"]
    assert loop.n_iter == while_.n_iter
    assert loop.n_fev == while_.n_fev
    np.testing.assert_allclose(loop.x, while_.x, rtol=1e-10, atol=1e-12)


def _counting_problem(base: Problem) -> tuple[Problem, list[int]]:
    """The same problem, with every objective evaluation counted on the host."""
    calls = [0]

    def bump():
        calls[0] += 1

    def counted(x, data):
        jax.debug.callback(bump)
        return base.objective(x, data)

    return replace(base, objective=counted), calls


@pytest.mark.parametrize("problem_name", ["rosenbrock", "logistic"])
def test_evaluation_counts_are_real(solver_name, problem_name):
    base = make_problem(problem_name, 20)
    problem, calls = _counting_problem(base)
    prepared = get_solver(solver_name).prepare(problem, SolverConfig())
    prepared.compile()
    calls[0] = 0  # tracing and compiling evaluate nothing, but be explicit
    raw = prepared.run()
    jax.effects_barrier()
    made = calls[0]  # the timed solve's own evaluations (result() evaluates the final point, and counts)
    result = prepared.result(raw)
    assert result.converged
    assert result.n_fev == made
    assert result.n_fev >= result.n_iter


def test_scipy_count_matches_scipy_own_nfev(seed_problem):
    prepared = get_solver("scipy").prepare(seed_problem, SolverConfig())
    res, n_calls = prepared.run()
    assert n_calls == res.nfev


def test_maxiter_reached_is_not_converged(solver_name, seed_problem):
    r = solve(solver_name, seed_problem, SolverConfig(maxiter=10))
    assert not r.converged
    assert r.n_iter == 10
    assert "maxiter=10 reached" in r.status
    assert np.isfinite(r.value)


def nan_objective(x, data=None):
    return jnp.sum(x**2) * jnp.nan


def nan_midway_objective(x, data=None):
    """Finite at the start, NaN once x[0] passes 0.5 (on the way to the minimum at 1)."""
    return jnp.where(x[0] > 0.5, jnp.nan, rosenbrock_objective(x))


@pytest.mark.parametrize("objective", [nan_objective, nan_midway_objective], ids=["nan-always", "nan-midway"])
def test_nan_objective_is_a_recorded_failure(solver_name, objective):
    problem = Problem("nan", 10, objective, jnp.zeros(10), None, None)
    r = solve(solver_name, problem, SolverConfig(maxiter=200))
    assert not r.converged
    assert "not finite" in r.status or "not converged" in r.status
    if objective is nan_objective:
        assert r.status == "failed: objective or gradient is not finite (NaN/inf)"


def test_solvers_accept_other_problems(solver_name):
    for name in ("quadratic", "logistic"):
        r = solve(solver_name, make_problem(name, 50), SolverConfig())
        assert r.converged, (name, r.status)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (SolverConfig(gtol=0.0), "gtol"),
        (SolverConfig(gtol=float("nan")), "gtol"),
        (SolverConfig(maxiter=0), "maxiter"),
        (SolverConfig(memory_size=0), "memory_size"),
        (SolverConfig(maxiter=2.5), "maxiter"),
    ],
)
def test_bad_config_is_a_clear_error(solver_name, config, match, seed_problem):
    with pytest.raises(ValueError, match=match):
        get_solver(solver_name).prepare(seed_problem, config)
