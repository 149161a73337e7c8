"""Which solvers are marked dense BFGS (sized down in the report) and which count accepted steps only."""

from __future__ import annotations

from lbfgs_impl.solvers import get_solver, solver_names


def test_only_the_dense_bfgs_solvers_are_marked_dense():
    dense = {s for s in solver_names() if get_solver(s).dense_hessian}
    assert dense == {"jax_scipy_bfgs", "optimistix_bfgs"}


def test_only_optimistix_counts_accepted_steps_as_iterations():
    accepted = {s for s in solver_names() if get_solver(s).iterations_are_accepted_steps}
    assert accepted == {"optimistix_lbfgs", "optimistix_bfgs"}
