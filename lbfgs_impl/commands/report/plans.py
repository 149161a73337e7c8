"""What each stage of ``lbfgs-bench report`` measures: the quick, full and tiny plans."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from lbfgs_impl.cases import BenchCase

#: the largest n at which the report runs a solver with a dense n x n inverse Hessian (at 10^4 one
#: matrix is 0.8 GB and each iteration's update 10^8 flops; at 10^5, 80 GB)
DENSE_MAX_N = 1000


def sized_for(solvers: Sequence[str], n: int) -> list[str]:
    """The ``solvers`` the report runs at size ``n``: all, less dense BFGS above :data:`DENSE_MAX_N`."""
    from lbfgs_impl.solvers import get_solver

    return [s for s in solvers if n <= DENSE_MAX_N or not get_solver(s).dense_hessian]


@dataclass(frozen=True)
class ReportPlan:
    """What each stage measures. :data:`QUICK` and :data:`FULL` are the two the command offers."""

    name: str
    scaling: tuple[BenchCase, ...]
    steady_repeats: int
    floor_sizes: tuple[int, ...]
    break_even: tuple[BenchCase, ...]
    batch_sizes: tuple[int, ...]
    batch_repeats: int
    robustness_problems: tuple[str, ...]
    robustness_solvers: tuple[str, ...] | None  # None: every available solver
    #: scaling, speedup, floor and the headline table: the seed variants and these peers (when installed)
    peers: tuple[str, ...] = ()
    #: break-even: these variants against SciPy, each first call sampled ``first_call_samples`` times
    break_even_solvers: tuple[str, ...] = ("optax_loop", "optax_while")
    first_call_samples: int = 3
    #: the explain stage counts the seed case under callgrind (else: its static HLO part only)
    explain_callgrind: bool = False
    #: scaling's steady rounds: ``steady_repeats``, or as few as this once they took ``steady_max_time_s``
    steady_min_repeats: int | None = None
    steady_max_time_s: float | None = None


def _rosenbrock(n: int) -> BenchCase:
    # Rosenbrock needs ~5n iterations: beyond n=1000, a fixed budget of 1000 (labelled so).
    return (
        BenchCase("rosenbrock", n, 1000, fixed_budget=True)
        if n > 1000
        else BenchCase("rosenbrock", n, 10_000)
    )


QUICK = ReportPlan(
    name="quick",
    scaling=(
        *(_rosenbrock(n) for n in (10, 100, 1000)),
        *(BenchCase("logistic", n) for n in (10, 100, 1000)),
    ),
    steady_repeats=3,
    floor_sizes=(10, 100, 1000),
    break_even=(_rosenbrock(100),),
    batch_sizes=(1, 16, 64),
    batch_repeats=2,
    robustness_problems=("mgh_rosenbrock", "mgh_beale", "mgh_freudenstein_roth", "mgh_wood", "mgh_penalty_1"),
    robustness_solvers=("scipy", "optax_loop", "optax_while", "jaxopt_lbfgs", "optimistix_lbfgs"),
    peers=("jaxopt_lbfgs", "optimistix_lbfgs"),
    break_even_solvers=("optax_loop", "optax_while", "jaxopt_lbfgs", "optimistix_lbfgs"),
)

FULL = ReportPlan(
    name="full",
    scaling=(
        *(_rosenbrock(n) for n in (10, 100, 1000, 10_000, 100_000)),
        *(BenchCase("logistic", n) for n in (10, 100, 1000, 10_000, 100_000)),
    ),
    steady_repeats=5,
    floor_sizes=(10, 100, 1000, 10_000, 100_000),
    break_even=(
        _rosenbrock(100),
        BenchCase("rosenbrock", 1000, 10_000),
        BenchCase("logistic", 10_000),
    ),
    batch_sizes=(1, 4, 16, 64, 256),
    batch_repeats=3,
    robustness_problems=(),  # () = the quick MGH subset of `lbfgs-bench profile --quick`
    robustness_solvers=None,
    peers=("jaxopt_lbfgs", "optimistix_lbfgs", "optimistix_bfgs", "jax_scipy_bfgs"),
    break_even_solvers=(
        "optax_loop",
        "optax_while",
        "jaxopt_lbfgs",
        "optimistix_lbfgs",
        "optimistix_bfgs",
        "jax_scipy_bfgs",
    ),
    explain_callgrind=True,
    steady_min_repeats=3,  # n = 10^5 and dense BFGS at 10^3 take 5-20 s a round
    steady_max_time_s=20.0,
)

#: For the tests: every stage and figure, on sizes that take seconds.
TINY = ReportPlan(
    name="tiny",
    scaling=(
        BenchCase("rosenbrock", 10, 10_000),
        BenchCase("rosenbrock", 30, 10_000),
        BenchCase("logistic", 10),
    ),
    steady_repeats=1,
    floor_sizes=(10,),
    break_even=(BenchCase("rosenbrock", 10, 10_000),),
    batch_sizes=(1, 4),
    batch_repeats=1,
    robustness_problems=("mgh_rosenbrock", "mgh_beale"),
    robustness_solvers=("scipy", "optax_while"),
    peers=("jaxopt_lbfgs",),
    break_even_solvers=("optax_while",),
)

PLANS = {"quick": QUICK, "full": FULL, "tiny": TINY}


def with_problem(plan: ReportPlan, problem: str, n: int | None) -> ReportPlan:
    """``plan`` with ``problem`` (a registered name or ``module:attr``) at size ``n`` added to its scaling
    and break-even cases (``n=None``: the problem's own dimension)."""
    from lbfgs_impl.problems import make_problem

    case = BenchCase(problem, make_problem(problem, n).n)
    return dataclasses.replace(plan, scaling=(*plan.scaling, case), break_even=(*plan.break_even, case))
