"""Performance profiles on a hand-made table whose answer is known, and the success rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lbfgs_impl.profiles import SUCCESS_TOL, profile, ratios, solved, tau_grid

# Three problems, three solvers (costs in any unit). Worked out by hand:
#   p1: a=1, b=2, c=4  -> ratios 1, 2, 4
#   p2: a=3, b=1, c=-  -> ratios 3, 1, inf (c failed)
#   p3: all fail       -> inf for everyone
TABLE = {"a": [1.0, 3.0, None], "b": [2.0, 1.0, float("nan")], "c": [4.0, None, None]}


def test_ratios_by_hand():
    r = ratios(TABLE)
    np.testing.assert_array_equal(r["a"], [1.0, 3.0, math.inf])
    np.testing.assert_array_equal(r["b"], [2.0, 1.0, math.inf])
    np.testing.assert_array_equal(r["c"], [4.0, math.inf, math.inf])


def test_profile_by_hand():
    rho = profile(TABLE, [1.0, 2.0, 3.0, 4.0, 1e9])
    np.testing.assert_allclose(rho["a"], [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["b"], [1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["c"], [0.0, 0.0, 0.0, 1 / 3, 1 / 3])
    # A profile never decreases and never passes the solver's success rate.
    for curve in rho.values():
        assert np.all(np.diff(curve) >= 0)


def test_tau_grid_covers_every_finite_ratio():
    grid = tau_grid(TABLE)
    assert grid[0] == 1.0 and grid[-1] > 4.0
    assert {2.0, 3.0, 4.0} <= set(grid.tolist())


def test_uneven_tables_are_refused():
    with pytest.raises(ValueError, match="one cost per problem"):
        ratios({"a": [1.0], "b": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("value", "f_star", "f0", "expected"),
    [
        (1e-12, 0.0, 24.2, True),
        (SUCCESS_TOL * 0.99, 0.0, 24.2, True),  # within tol of f* and tol * f(x0) of it
        (SUCCESS_TOL * 1.01, 0.0, 24.2, False),  # within tol * f(x0), not within tol of f* itself
        (0.1 * SUCCESS_TOL * 1.01, 0.0, 0.1, False),  # near f*, not within tol * f(x0) when f(x0) is small
        (48.9842, 0.0, 400.5, False),  # Freudenstein-Roth's local minimum is not a success
        (124.362, 124.362, 4171.3, True),
        (float("nan"), 0.0, 1.0, False),
        (float("inf"), 0.0, 1.0, False),
    ],
)
def test_success_rule(value, f_star, f0, expected):
    assert solved(value, f_star, f0) is expected
