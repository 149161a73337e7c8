"""The success rule near f* itself, at several tolerances; the minimum named two-sided; no f*, no success."""

from __future__ import annotations

import pytest

from lbfgs_impl.commands.profile.runner import _minimum_label, run_profile
from lbfgs_impl.commands.profile.trace import evaluations_to_success
from lbfgs_impl.profiles import PROFILE_TOLS, solved


@pytest.mark.parametrize(
    ("what", "value", "f_star", "f0"),
    [
        # the cases: the relative test alone passes them, the closeness to f* does not
        ("Penalty I n=10", 1.0, 7.08765e-5, 148032.56535),
        ("Meyer", 1e4, 87.9458, 1.69361e9),
        ("Brown badly scaled", 5e6, 0.0, 999998000003.0),
        ("variably dimensioned", 20.0, 0.0, 2.19855e6 * 10),
        ("variably dimensioned after 15 iterations", 0.0169, 0.0, 1.63e6),
        ("Box 3D", 0.0020, 0.0, 1031.15),
    ],
)
def test_far_from_f_star_is_not_solved(what, value, f_star, f0):
    assert value - f_star <= 1e-5 * (f0 - f_star)  # passes the relative test alone
    assert not solved(value, f_star, f0), what


def test_tolerances_are_more_wilds_and_tighten():
    assert PROFILE_TOLS == (1e-1, 1e-3, 1e-5, 1e-7)
    assert [solved(5e-4, 0.0, 24.2, t) for t in PROFILE_TOLS] == [True, True, False, False]
    # the first evaluation that meets the test, 1-based; None where none does
    values = [24.2, 3.0, 0.1, 1e-3, 1e-9]
    assert [evaluations_to_success(values, 0.0, 24.2, t) for t in PROFILE_TOLS] == [3, 4, 5, 5]
    assert evaluations_to_success([24.2, 48.98], 0.0, 24.2, 1e-1) is None


def test_the_minimum_reached_is_named_two_sided():
    assert _minimum_label(1.0, 8.21487e-3, "mgh_bard") == "none of the known minima"  # not "at infinity"
    assert _minimum_label(17.4286, 8.21487e-3, "mgh_bard").startswith("at infinity")
    assert _minimum_label(10.0, 0.0, "mgh_freudenstein_roth") == "none of the known minima"
    assert _minimum_label(48.98425, 0.0, "mgh_freudenstein_roth").startswith("local minimum")
    assert _minimum_label(8.2148e-3, 8.21487e-3, "mgh_bard") == "global minimum (MGH f*)"


def test_a_problem_without_published_f_star_is_excluded_not_solved_by_the_best_found():
    run = run_profile(["logistic"], ["scipy"], repeats=1)  # logistic: no known minimum value
    assert run.problems == [] and run.runs == []
    assert "no published f*" in run.excluded_problems["logistic"]


def test_cost_is_charged_up_to_the_first_success():
    run = run_profile(["mgh_rosenbrock"], ["scipy"], repeats=1)
    (r,) = run.runs
    assert r.solved and r.traced_fev == r.n_fev  # the traced solve made the timed solve's evaluations
    firsts = [r.fev_to_success[f"{t:g}"] for t in PROFILE_TOLS]
    assert all(k is not None for k in firsts) and firsts == sorted(firsts) and firsts[0] < r.n_fev
    assert run.costs("evaluations", 1e-1) == {"scipy": [float(firsts[0])]}
    assert run.costs("time", 1e-1)["scipy"][0] == pytest.approx(r.steady_s * firsts[0] / r.n_fev)
