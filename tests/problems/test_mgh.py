"""The Moré-Garbow-Hillstrom set: starting values, published minima, and a short solve of each."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from lbfgs_impl.problems import make_problem, mgh
from lbfgs_impl.solvers import SEED_SOLVERS, SolverConfig, solve

NAMES = list(mgh.SPECS)

#: f(x0), worked out by hand from the MGH definitions (f = sum of squares, no 1/2).
F_X0_BY_HAND = {
    "mgh_rosenbrock": 24.2,  # 10^2 (1 - 1.44)^2 + 2.2^2 = 19.36 + 4.84
    "mgh_freudenstein_roth": 400.5,  # residuals 19.5 and -4.5
    "mgh_powell_badly_scaled": 1.0 + (np.exp(-1.0) - 1e-4) ** 2,  # r1 = -1, r2 = 1 + e^-1 - 1.0001
    "mgh_brown_badly_scaled": (1.0 - 1e6) ** 2 + (1.0 - 2e-6) ** 2 + 1.0,
    "mgh_beale": 14.203125,  # 1.5^2 + 2.25^2 + 2.625^2
    "mgh_helical_valley": 2500.0,  # theta = 1/2: r1 = 10 (0 - 5)
    "mgh_powell_singular": 215.0,  # 49 + 5 + 1 + 160
    "mgh_wood": 19192.0,  # 10000 + 16 + 9000 + 16 + 160 + 0
    "mgh_watson": 30.0,  # 29 residuals of -1, x1 = 0, x2 - x1^2 - 1 = -1
    "mgh_extended_rosenbrock": 10 / 2 * 24.2,
    "mgh_extended_powell_singular": 12 / 4 * 215.0,
    "mgh_brown_almost_linear": 9 * 5.5**2 + (0.5**10 - 1.0) ** 2,
    "mgh_broyden_tridiagonal": 2**2 + 8 * 1**2 + 3**2,  # residuals -2, -1 (x8), -3
    "mgh_broyden_banded": 10 * 6.0**2,  # x_j (1 + x_j) = 0 at x = -1: every residual -7 + 1
    "mgh_linear_full_rank": 10 * 1.0 + 10 * 4.0,  # m = 20: s = 1, residuals -1 (x10) and -2 (x10)
}


def test_the_set_has_every_problem_the_issue_names():
    assert len(NAMES) == 33
    assert len({mgh.SPECS[n].number for n in NAMES}) == 33


@pytest.mark.parametrize("name", sorted(F_X0_BY_HAND))
def test_value_at_the_standard_start(name):
    p = make_problem(name)
    assert float(p.value(p.x0)) == pytest.approx(F_X0_BY_HAND[name], rel=1e-12)


def test_penalty_1_at_n4_is_e_minus_5():
    assert make_problem("mgh_penalty_1", 4).f_star == 2.24997e-5
    assert _least_squares_minimum_n("mgh_penalty_1", 4) == pytest.approx(2.24997e-5, rel=1e-5)


def _least_squares_minimum_n(name: str, n: int) -> float:
    p = make_problem(name, n)
    spec = mgh.SPECS[name]
    res = scipy.optimize.least_squares(
        lambda x: np.asarray(spec.residual(x, p.data)), np.asarray(p.x0), method="lm", xtol=1e-15, ftol=1e-15
    )
    return float(np.sum(res.fun**2))


def test_gulf_uses_a_minus_sign():
    p = make_problem("mgh_gulf")
    assert float(p.value(np.array([50.0, 25.0, 1.5]))) < 1e-20  # the published minimiser


@pytest.mark.parametrize(
    ("name", "n", "message"),
    [
        ("mgh_beale", 3, "mgh_beale has fixed dimension 2, got n=3"),
        ("mgh_extended_rosenbrock", 9, "n must be even"),
        ("mgh_extended_powell_singular", 10, "n must be a multiple of 4"),
        ("mgh_penalty_2", 20, "n must be <= 10"),
    ],
)
def test_bad_dimensions_are_refused(name, n, message):
    with pytest.raises(ValueError, match=message):
        make_problem(name, n)


#: optax_loop runs the objectives optax_while compiles (the same value_and_grad in a Python loop):
#: all 33 through the loop would add a minute of compiling and no new code path, so it gets three.
LOOP_SAMPLE = ("mgh_rosenbrock", "mgh_watson", "mgh_brown_almost_linear")


@pytest.mark.parametrize("solver", SEED_SOLVERS)
def test_a_short_solve_of_every_problem(solver):
    assert set(LOOP_SAMPLE) <= set(NAMES)
    for name in LOOP_SAMPLE if solver == "optax_loop" else NAMES:
        p = make_problem(name)
        r = solve(solver, p, SolverConfig(maxiter=20))
        f0 = float(p.value(p.x0))
        assert 1 <= r.n_iter <= 20 and r.n_fev >= r.n_iter, (name, r)
        assert np.isfinite(r.value) and r.value <= f0, (name, r.value, f0)
