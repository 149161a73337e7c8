"""Performance profiles on a hand-made table whose answer is known, and the success rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lbfgs_impl.profiles import SUCCESS_TOL, near, profile, ratios, solved, success_rule_text, tau_grid

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


def test_ratios_on_a_table_that_is_not_square():
    r = ratios({"a": [2.0, 4.0, 6.0], "b": [1.0, 8.0, 3.0]})  # two solvers, three problems
    np.testing.assert_array_equal(r["a"], [2.0, 1.0, 2.0])
    np.testing.assert_array_equal(r["b"], [1.0, 2.0, 1.0])


def test_success_needs_the_gap_relative_to_the_start_with_a_nonzero_minimum():
    # f* = 100, f(x0) = 101: the relative test allows 1e-5 of the distance 1, not of 201
    assert solved(100.0 + 0.5e-5, 100.0, 101.0) is True
    assert solved(100.0 + 5e-5, 100.0, 101.0) is False


def test_near_a_minimum_is_two_sided_and_absolute_below_one():
    assert near(1.5e-5, 0.0) is False and near(0.5e-5, 0.0) is True
    assert near(-0.5e-5, 0.0) is True and near(-1.5e-5, 0.0) is False
    assert near(1000.0 + 5e-3, 1000.0) is True and near(1000.0 + 2e-2, 1000.0) is False


def test_the_rule_in_words():
    text = "f - f* <= 1e-05 (f(x0) - f*) and f - f* <= 1e-05 max(1, |f*|), f finite"
    assert success_rule_text() == text
    assert success_rule_text(1e-3).startswith("f - f* <= 0.001 (f(x0) - f*)")
