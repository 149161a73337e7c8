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
Each is a plain function of the public solver protocol (:mod:`lbfgs_impl.solvers.protocol`):
SciPy and ``optax_loop`` host-driven (``optax_loop`` with a setup that compiles its step),
``optax_while`` and the peers jittable; the suite evaluates every final point and counts every
solver's evaluations itself.
The peers (``jaxopt_lbfgs``, ``optimistix_lbfgs``, ``optimistix_bfgs``,
``jax_scipy_bfgs``) follow their libraries' own stopping rules as closely as
the APIs allow (each module says how); the optional packages come with
``pip install 'lbfgs-bench[peers]'`` and a missing one makes that solver
report :meth:`Solver.unavailable_reason` instead of failing on import.

For timing, ``solver.prepare(problem, config)`` returns a :class:`PreparedSolve`
whose ``compile()`` does every trace/lower/compile ahead of time and whose
``run()`` performs one complete solve and blocks until it is done. The
measurement core (:mod:`lbfgs_impl.measure`) only ever times those two calls.

Where solvers come from (:mod:`lbfgs_impl.registry`): the entry-point group
``lbfgs_bench.solvers`` (lbfgs-bench registers the solvers above there; from a source
checkout without an install, the same come from :data:`BUILTIN_SOLVERS`), and any
``module:attr`` naming a solver or a solve function of the public protocol
(:mod:`lbfgs_impl.solvers.protocol`).
"""

from __future__ import annotations

import lbfgs_impl.registry as registry
from lbfgs_impl.problems import Problem
from lbfgs_impl.registry import Origin, PluginError
from lbfgs_impl.solvers.base import (
    PreparedSolve,
    Result,
    Solver,
    SolverConfig,
    SolverUnavailable,
    StageTimes,
)
from lbfgs_impl.solvers.optax_lbfgs import while_loop_solve
from lbfgs_impl.solvers.protocol import (
    HostSolver,
    JaxSolver,
    SolveState,
    as_solver,
    host_solver,
    jax_solver,
)

__all__ = [
    "BUILTIN_SOLVERS",
    "PEER_SOLVERS",
    "SEED_SOLVERS",
    "SOLVERS",
    "HostSolver",
    "JaxSolver",
    "PreparedSolve",
    "Result",
    "SolveState",
    "Solver",
    "SolverConfig",
    "SolverUnavailable",
    "StageTimes",
    "available_solver_names",
    "get_solver",
    "host_solver",
    "jax_solver",
    "solve",
    "solver_names",
    "solver_origin",
    "while_loop_solve",
]

#: lbfgs-bench's own solvers (name -> ``module:attr``), as its ``lbfgs_bench.solvers`` entry points
#: declare them; used as they are where the installed distribution declares none (a source checkout).
BUILTIN_SOLVERS: dict[str, str] = {
    "scipy": "lbfgs_impl.solvers.scipy_lbfgsb:ScipyLBFGSB",
    "optax_loop": "lbfgs_impl.solvers.optax_lbfgs:OptaxPythonLoop",
    "optax_while": "lbfgs_impl.solvers.optax_lbfgs:OptaxWhileLoop",
    "jaxopt_lbfgs": "lbfgs_impl.solvers.jaxopt_lbfgs:JaxoptLBFGS",
    "optimistix_lbfgs": "lbfgs_impl.solvers.optimistix_lbfgs:OptimistixLBFGS",
    "optimistix_bfgs": "lbfgs_impl.solvers.optimistix_lbfgs:OptimistixBFGS",
    "jax_scipy_bfgs": "lbfgs_impl.solvers.jax_scipy_bfgs:JaxScipyBFGS",
}

_ORIGINS: dict[str, Origin] = {}


def _load(name: str, target: str, origin: Origin, what: str) -> Solver:
    solver = as_solver(registry.load_target(target, what), name, what)
    _ORIGINS[name] = origin
    return solver


#: lbfgs-bench's own solvers by name (seed variants first), loaded through its entry points.
SOLVERS: dict[str, Solver] = {
    r.name: _load(r.name, r.target, r.origin(), f"solver {r.name!r}")
    for r in registry.builtin_registrations(registry.SOLVER_GROUP, BUILTIN_SOLVERS)
}

#: The three variants of the seed question; the default wherever no solvers are named.
SEED_SOLVERS: tuple[str, ...] = ("scipy", "optax_loop", "optax_while")
PEER_SOLVERS: tuple[str, ...] = tuple(name for name in BUILTIN_SOLVERS if name not in SEED_SOLVERS)


def _plugin_names() -> list[str]:
    return [name for name in registry.third_party(registry.SOLVER_GROUP) if name not in BUILTIN_SOLVERS]


def solver_names() -> list[str]:
    """Every registered name accepted by :func:`get_solver` (seed variants, peers, then installed plugins);
    any ``module:attr`` is accepted as well."""
    # a module:attr looked up earlier is kept in SOLVERS to be loaded once, but it is no registered name
    # (it would otherwise join every later "all solvers" default in the same process)
    registered = [name for name in SOLVERS if not registry.is_spec(name)]
    return [*registered, *(n for n in _plugin_names() if n not in SOLVERS)]


def available_solver_names() -> list[str]:
    """The registered solvers whose packages are installed here (a plugin that fails to load is left out)."""
    out = []
    for name in solver_names():
        try:
            solver = get_solver(name)
        except ValueError:
            continue
        if solver.unavailable_reason() is None:
            out.append(name)
    return out


def get_solver(name: str) -> Solver:
    """Look a solver up by name or ``module:attr``; ``ValueError`` (one line) lists the valid names or says
    why a plugin cannot be used."""
    plugins = registry.third_party(registry.SOLVER_GROUP)
    if name in BUILTIN_SOLVERS and name in plugins:
        regs = [
            next(
                r
                for r in registry.builtin_registrations(registry.SOLVER_GROUP, BUILTIN_SOLVERS)
                if r.name == name
            ),
            *plugins[name],
        ]
        raise PluginError(registry.conflict_message("solver", name, regs))
    if name in SOLVERS:
        return SOLVERS[name]
    if registry.is_spec(name):
        SOLVERS[name] = _load(name, name, registry.spec_origin(name), f"solver {name!r}")
        return SOLVERS[name]
    if name in plugins:
        regs = plugins[name]
        if len(regs) > 1:
            raise PluginError(registry.conflict_message("solver", name, regs))
        SOLVERS[name] = _load(name, regs[0].target, regs[0].origin(), f"solver {name!r}")
        return SOLVERS[name]
    raise ValueError(f"unknown solver {name!r}; valid solvers: {', '.join(solver_names())} (or module:attr)")


def solver_origin(name: str) -> Origin:
    """Where the solver ``name`` comes from (after :func:`get_solver` found it)."""
    get_solver(name)
    return _ORIGINS.get(name) or Origin("built-in", type(SOLVERS[name]).__module__, registry.OWN_DISTRIBUTION)


def solve(solver: str, problem: Problem, config: SolverConfig | None = None) -> Result:
    """Solve ``problem`` with the named solver (convenience wrapper)."""
    return get_solver(solver).solve(problem, config or SolverConfig())
