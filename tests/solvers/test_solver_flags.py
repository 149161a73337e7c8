"""Which solvers are marked dense BFGS (sized down in the report) and which count accepted steps only."""

from __future__ import annotations

import pytest

from lbfgs_impl.solvers import get_solver, solver_names


def test_only_the_dense_bfgs_solvers_are_marked_dense():
    dense = {s for s in solver_names() if get_solver(s).dense_hessian}
    assert dense == {"jax_scipy_bfgs", "optimistix_bfgs"}


def test_only_optimistix_counts_accepted_steps_as_iterations():
    accepted = {s for s in solver_names() if get_solver(s).iterations_are_accepted_steps}
    assert accepted == {"optimistix_lbfgs", "optimistix_bfgs"}


def test_a_peer_whose_package_is_missing_says_so_and_is_not_prepared():
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig
    from lbfgs_impl.solvers.base import JittedSolver, SolverUnavailable

    class Missing(JittedSolver):
        name = "missing"
        package = "no_such_package_for_lbfgs_bench"

    reason = "no_such_package_for_lbfgs_bench is not installed (pip install 'lbfgs-bench[peers]')"
    assert Missing().unavailable_reason() == reason
    with pytest.raises(SolverUnavailable, match=r"^missing: no_such_package_for_lbfgs_bench is not"):
        Missing().prepare(make_problem("quadratic", 3), SolverConfig())
    assert get_solver("scipy").unavailable_reason() is None


def test_an_outcome_without_its_count_says_so_and_the_result_counts():
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig

    prepared = get_solver("jax_scipy_bfgs").prepare(make_problem("quadratic", 3), SolverConfig())
    raw = prepared.run()
    assert prepared.outcome(raw).n_fev == -1  # documented: no extra solve, no count
    done = prepared.result(raw)
    assert done.converged and done.n_fev >= done.n_iter >= 1
