"""``jaxopt_lbfgs``: :class:`jaxopt.LBFGS` (zoom line search), the whole run inside one jit; a jittable
solve of the public protocol (:mod:`.protocol`).

jaxopt stops on the 2-norm of the gradient (``tol``); with ``tol = gtol`` that
is a stricter test than the suite's ``||g||_inf <= gtol``. jaxopt is no longer
developed upstream but still widely used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from lbfgs_impl.solvers.base import JittedOutput, JittedSolver, SolverConfig
from lbfgs_impl.solvers.protocol import JaxSolver


def jaxopt_lbfgs(objective: Callable[..., Any], x0: Any, data: Any, config: SolverConfig) -> JittedOutput:
    """The whole jaxopt L-BFGS run (jittable); ``code`` 1 where it stopped on ``||g||_2 <= gtol``."""
    import jaxopt

    solver = jaxopt.LBFGS(
        fun=objective, maxiter=config.maxiter, tol=config.gtol, history_size=config.memory_size
    )
    params, state = solver.run(x0, data)
    return JittedOutput(params, state.iter_num, (state.error <= config.gtol).astype(jnp.int64))


def describe(code: int, n_iter: int, config: SolverConfig) -> str:
    if code:
        return "jaxopt stopped on ||g||_2 <= tol"
    if n_iter >= config.maxiter:
        return f"jaxopt reached maxiter={config.maxiter}"
    return "jaxopt stopped early (its line search made no progress)"


class JaxoptLBFGS(JaxSolver):
    """The ``jaxopt_lbfgs`` solver: :func:`jaxopt_lbfgs` as a jittable solver of the public protocol."""

    def __init__(self) -> None:
        super().__init__(
            jaxopt_lbfgs,
            "jaxopt_lbfgs",
            "jaxopt.LBFGS inside one jit (stops on ||g||_2 <= gtol)",
            package="jaxopt",
            describe=describe,
            install_hint=JittedSolver.install_hint,
        )
