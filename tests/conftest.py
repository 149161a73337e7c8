"""Shared fixtures: the seed case (Rosenbrock n=100) solved once per seed variant (peers: test_peers.py)."""

from __future__ import annotations

import pytest

import lbfgs_impl  # noqa: F401  (turns on float64 before any array is made)
from lbfgs_impl.problems import Problem, make_problem
from lbfgs_impl.solvers import SEED_SOLVERS, Result, SolverConfig, solve


@pytest.fixture(scope="session")
def seed_problem() -> Problem:
    return make_problem("rosenbrock", 100)


@pytest.fixture(scope="session")
def seed_results(seed_problem: Problem) -> dict[str, Result]:
    return {name: solve(name, seed_problem, SolverConfig()) for name in SEED_SOLVERS}


@pytest.fixture(params=SEED_SOLVERS)
def solver_name(request: pytest.FixtureRequest) -> str:
    return request.param
