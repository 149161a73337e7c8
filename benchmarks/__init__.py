"""asv benchmarks for lbfgs-bench; helpers shared by the benchmark modules.

The benchmark code comes from the current checkout while ``lbfgs_impl`` comes
from the commit being measured, so only long-standing parts of its API are
used here, and what a commit lacks is skipped with ``NotImplementedError``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: ``LBFGS_BENCH_ASV_SMOKE=1`` shrinks every grid to its smallest useful size (one solver, one small case,
#: two MGH problems): the test suite's check that every benchmark runs under asv uses it with ``--quick``
#: (whose results asv does not save). Never set it for figures you keep.
SMOKE = os.environ.get("LBFGS_BENCH_ASV_SMOKE") == "1"

#: The cases tracked over history: the seed case and one data-driven problem.
CASES = ["rosenbrock-10"] if SMOKE else ["rosenbrock-100", "logistic-100"]

#: asv takes no arguments for the benchmarks, so a plugin is selected through the environment:
#: ``LBFGS_BENCH_ASV_SOLVERS=scipy,example_gd`` (names, installed plugins' included, or module:attr)
#: and ``LBFGS_BENCH_ASV_CASES=example_quadratic-20`` (``NAME-N``, NAME a problem name or module:attr)
#: replace the grids of ``lbfgs`` and ``hlo`` (the MGH robustness set keeps its own).
SELECTED_SOLVERS = [s for s in os.environ.get("LBFGS_BENCH_ASV_SOLVERS", "").split(",") if s]
if os.environ.get("LBFGS_BENCH_ASV_CASES"):
    CASES = [c for c in os.environ["LBFGS_BENCH_ASV_CASES"].split(",") if c]


def solvers(default: list[str]) -> list[str]:
    """The solvers of a grid: ``$LBFGS_BENCH_ASV_SOLVERS`` when set, else ``default``."""
    return SELECTED_SOLVERS or default


def parse_case(case: str) -> tuple[str, int]:
    """``"rosenbrock-100"`` -> ``("rosenbrock", 100)``."""
    name, n = case.rsplit("-", 1)
    return name, int(n)


def make_case(solver: str, case: str):
    """``(solver, problem, config)`` for one grid point, or skip it.

    Raises:
      NotImplementedError: the measured commit has no such solver or problem
        (asv then reports the combination as skipped).
    """
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver

    name, n = parse_case(case)
    try:
        return get_solver(solver), make_problem(name, n), SolverConfig()
    except ValueError as exc:
        raise NotImplementedError(str(exc)) from None
