"""Shared fixtures: the seed case (Rosenbrock n=100) solved once per solver."""

from __future__ import annotations

import pytest

import lbfgs_impl  # noqa: F401  (turns on float64 before any array is made)
from lbfgs_impl.problems import Problem, make_problem
from lbfgs_impl.solvers import Result, SolverConfig, solve, solver_names


@pytest.fixture(scope="session")
def seed_problem() -> Problem:
    return make_problem("rosenbrock", 100)


@pytest.fixture(scope="session")
def seed_results(seed_problem: Problem) -> dict[str, Result]:
    return {name: solve(name, seed_problem, SolverConfig()) for name in solver_names()}


@pytest.fixture(params=solver_names())
def solver_name(request: pytest.FixtureRequest) -> str:
    return request.param
