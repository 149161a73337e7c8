"""The benchmark grid shared by ``perf/`` (pytest-benchmark) and ``benchmarks/`` (asv).

A :class:`BenchCase` names a problem, its size and the iteration budget. Most
cases run to convergence; a case with ``fixed_budget=True`` is expected to stop
at ``maxiter`` (Rosenbrock needs ~5n iterations, so n=10^4 would take minutes)
and measures the cost of a fixed number of iterations instead.
"""

from __future__ import annotations

from typing import NamedTuple

from lbfgs_impl.problems import Problem, make_problem, mgh
from lbfgs_impl.solvers import SolverConfig


class BenchCase(NamedTuple):
    problem: str
    n: int
    maxiter: int = 1000
    fixed_budget: bool = False

    @property
    def id(self) -> str:
        """Stable identifier used in benchmark names, e.g. ``rosenbrock-100``."""
        return f"{self.problem}-{self.n}"

    def make_problem(self) -> Problem:
        return make_problem(self.problem, self.n)

    def config(self) -> SolverConfig:
        return SolverConfig(maxiter=self.maxiter)


SEED_CASE = BenchCase("rosenbrock", 100)

QUICK_CASES: tuple[BenchCase, ...] = (SEED_CASE, BenchCase("logistic", 100))

FULL_CASES: tuple[BenchCase, ...] = (
    *QUICK_CASES,
    BenchCase("rosenbrock", 10),
    BenchCase("rosenbrock", 1000, maxiter=10_000),
    BenchCase("rosenbrock", 10_000, maxiter=1000, fixed_budget=True),
    BenchCase("logistic", 10),
    BenchCase("logistic", 1000),
    BenchCase("logistic", 10_000),
)

#: The Moré-Garbow-Hillstrom set at each problem's default dimension (``--perf-size mgh``).
MGH_CASES: tuple[BenchCase, ...] = tuple(BenchCase(name, spec.default_n) for name, spec in mgh.SPECS.items())

SIZES: dict[str, tuple[BenchCase, ...]] = {"quick": QUICK_CASES, "full": FULL_CASES, "mgh": MGH_CASES}

#: Grids that every solver runs (the peers too); the others run the seed variants.
ALL_SOLVER_SIZES = ("mgh",)


def cases_for(size: str) -> tuple[BenchCase, ...]:
    """The grid for ``size``; ``ValueError`` lists the valid sizes."""
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown size {size!r}; valid sizes: {', '.join(SIZES)}") from None
