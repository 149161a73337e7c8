"""lbfgs-bench: L-BFGS in SciPy and Optax, measured correctly.

Importing this package sets ``OPENBLAS_NUM_THREADS=1`` unless it is already
set (SciPy's L-BFGS-B on small vectors only loses from BLAS threads; the value
in force is recorded with every result) and turns on ``jax_enable_x64``.
"""

import os as _os

_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from lbfgs_impl.problems import PROBLEMS, Problem, make_problem, problem_names
from lbfgs_impl.solvers import (
    SOLVERS,
    Result,
    SolverConfig,
    get_solver,
    solve,
    solver_names,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lbfgs-bench")
    except PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


__version__ = _version()

_API = ("compare", "profile", "report", "CompareResult", "ProfileResult")


def __getattr__(name: str):  # the Python API (lbfgs_impl.api), imported on first use
    if name in _API:
        import importlib

        return getattr(importlib.import_module("lbfgs_impl.api"), name)
    raise AttributeError(f"module 'lbfgs_impl' has no attribute {name!r}")


__all__ = [  # noqa: RUF022 (the API names are provided by __getattr__)
    "PROBLEMS",
    "SOLVERS",
    "Problem",
    "Result",
    "SolverConfig",
    "get_solver",
    "make_problem",
    "problem_names",
    "solve",
    "solver_names",
    "compare",
    "profile",
    "report",
    "CompareResult",
    "ProfileResult",
]
