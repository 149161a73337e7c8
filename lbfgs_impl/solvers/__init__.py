"""The L-BFGS variants and their peers behind one interface.

``get_solver(name).solve(problem, config) -> Result``. The three seed variants
(always there):

* ``scipy``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``, value
  and gradient from one jitted :func:`jax.value_and_grad`;
* ``optax_loop``: :func:`optax.lbfgs` driven by a Python loop around one jitted
  step; convergence is checked on the host after every step;
* ``optax_while``: the whole solve as one jitted :func:`jax.lax.while_loop`,
  as in Optax's L-BFGS documentation.

All three stop on the same rule: ``||g||_inf <= gtol`` or ``maxiter`` iterations.
The peers (``jaxopt_lbfgs``, ``optimistix_lbfgs``, ``optimistix_bfgs``,
``jax_scipy_bfgs``) follow their libraries' own stopping rules as closely as
the APIs allow (each module says how); the optional packages come with
``pip install 'lbfgs-bench[peers]'`` and a missing one makes that solver
report :meth:`Solver.unavailable_reason` instead of failing on import.

For timing, ``solver.prepare(problem, config)`` returns a :class:`PreparedSolve`
whose ``compile()`` does every trace/lower/compile ahead of time and whose
``run()`` performs one complete solve and blocks until it is done. The
measurement core (:mod:`lbfgs_impl.measure`) only ever times those two calls.
"""

from __future__ import annotations

from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers.base import (
    PreparedSolve,
    Result,
    Solver,
    SolverConfig,
    SolverUnavailable,
    StageTimes,
)
from lbfgs_impl.solvers.jax_scipy_bfgs import JaxScipyBFGS
from lbfgs_impl.solvers.jaxopt_lbfgs import JaxoptLBFGS
from lbfgs_impl.solvers.optax_lbfgs import OptaxPythonLoop, OptaxWhileLoop, while_loop_solve
from lbfgs_impl.solvers.optimistix_lbfgs import OptimistixBFGS, OptimistixLBFGS
from lbfgs_impl.solvers.scipy_lbfgsb import ScipyLBFGSB

__all__ = [
    "PEER_SOLVERS",
    "SEED_SOLVERS",
    "SOLVERS",
    "PreparedSolve",
    "Result",
    "Solver",
    "SolverConfig",
    "SolverUnavailable",
    "StageTimes",
    "available_solver_names",
    "get_solver",
    "solve",
    "solver_names",
    "while_loop_solve",
]

SOLVERS: dict[str, Solver] = {
    s.name: s
    for s in (
        ScipyLBFGSB(),
        OptaxPythonLoop(),
        OptaxWhileLoop(),
        JaxoptLBFGS(),
        OptimistixLBFGS(),
        OptimistixBFGS(),
        JaxScipyBFGS(),
    )
}

#: The three variants of the seed question; the default wherever no solvers are named.
SEED_SOLVERS: tuple[str, ...] = ("scipy", "optax_loop", "optax_while")
PEER_SOLVERS: tuple[str, ...] = tuple(name for name in SOLVERS if name not in SEED_SOLVERS)


def solver_names() -> list[str]:
    """Every name accepted by :func:`get_solver` (seed variants first, then peers)."""
    return list(SOLVERS)


def available_solver_names() -> list[str]:
    """The solvers whose packages are installed here."""
    return [name for name, s in SOLVERS.items() if s.unavailable_reason() is None]


def get_solver(name: str) -> Solver:
    """Look a solver up by name; ``ValueError`` lists the valid names."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; valid solvers: {', '.join(SOLVERS)}") from None


def solve(solver: str, problem: Problem, config: SolverConfig | None = None) -> Result:
    """Solve ``problem`` with the named solver (convenience wrapper)."""
    return get_solver(solver).solve(problem, config or SolverConfig())
