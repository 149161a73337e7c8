"""The common stop rule at its boundary, and SciPy's observed run making the unobserved run's evaluations."""

from __future__ import annotations

import numpy as np
import pytest

from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver
from lbfgs_impl.solvers.base import stop_status

GTOL = 1e-5
CONFIG = SolverConfig(gtol=GTOL, maxiter=100)


@pytest.mark.parametrize(
    ("gnorm", "converged"),
    [
        (1.5 * GTOL, False),  # half again the tolerance: not converged
        (GTOL * (1 + 1e-9), False),  # just above
        (GTOL, True),  # exactly at gtol: the rule is <=
        (GTOL * (1 - 1e-9), True),  # just under
        (0.5 * GTOL, True),
    ],
)
def test_the_stop_rule_at_its_boundary(gnorm, converged):
    ok, text = stop_status(1.0, gnorm, 10, CONFIG)
    assert ok is converged
    if converged:
        assert text == "converged: ||g||_inf <= gtol=1e-05"
    else:
        assert text == "not converged: stopped before reaching gtol"


def test_the_stop_rule_names_maxiter_and_non_finite_values():
    assert stop_status(1.0, 1.5 * GTOL, 100, CONFIG) == (False, "not converged: maxiter=100 reached")
    assert stop_status(1.0, 1.5 * GTOL, 99, CONFIG)[1] == "not converged: stopped before reaching gtol"
    bad = (False, "failed: objective or gradient is not finite (NaN/inf)")
    assert stop_status(float("nan"), 0.0, 1, CONFIG) == bad
    assert stop_status(1.0, float("inf"), 1, CONFIG) == bad


@pytest.fixture(scope="module")
def scipy_runs():
    """One unobserved and one observed SciPy solve of the same small problem."""
    prepared = get_solver("scipy").prepare(make_problem("rosenbrock", 6), SolverConfig())
    plain = prepared.run()
    seen: list[tuple[float, float]] = []
    observed = prepared.run(observe=lambda value, gnorm: seen.append((value, gnorm)))
    return prepared, plain, observed, seen


def test_an_observed_scipy_run_makes_the_same_evaluations(scipy_runs):
    prepared, (res, n_calls), (res_obs, n_calls_obs), _ = scipy_runs
    assert res.nit > 5
    assert n_calls_obs == n_calls == res.nfev
    assert res_obs.nit == res.nit
    np.testing.assert_array_equal(res_obs.x, res.x)
    assert prepared.result((res_obs, n_calls_obs)).n_fev == prepared.result((res, n_calls)).n_fev


def test_the_observer_is_called_once_per_iteration_with_the_accepted_iterate(scipy_runs):
    _, _, (res, _), seen = scipy_runs
    assert len(seen) == res.nit
    value, gnorm = seen[-1]
    assert value == float(res.fun)
    assert gnorm == float(np.max(np.abs(res.jac)))
    assert seen[0][0] < float(make_problem("rosenbrock", 6).objective(*_start()))  # after one step


def _start():
    p = make_problem("rosenbrock", 6)
    return p.x0, p.data


def test_scipys_status_follows_the_common_rule(scipy_runs):
    prepared, plain, _, _ = scipy_runs
    done = prepared.result(plain)
    assert done.converged and done.status == "converged: ||g||_inf <= gtol=1e-05"
    short = get_solver("scipy").prepare(make_problem("rosenbrock", 6), SolverConfig(maxiter=3))
    stopped = short.result(short.run())
    assert (stopped.converged, stopped.n_iter) == (False, 3)
    assert stopped.status == "not converged: maxiter=3 reached"
