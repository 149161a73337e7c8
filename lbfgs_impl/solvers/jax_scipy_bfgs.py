"""``jax_scipy_bfgs``: :func:`jax.scipy.optimize.minimize` with ``method="BFGS"``, jitted; a jittable solve
of the public protocol (:mod:`.protocol`).

Stops on ``||g||_inf <= gtol`` like the suite. Its line search gives up easily
(on the seed case after 2 iterations, status 3): that is recorded as the
result, not hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from lbfgs_impl.solvers.base import JittedOutput, SolverConfig
from lbfgs_impl.solvers.protocol import JaxSolver

#: ``jax.scipy.optimize.minimize(method="BFGS")`` status codes (jax/_src/scipy/optimize/bfgs.py).
STATUS = {
    0: "converged",
    1: "maximum number of BFGS iterations reached",
    3: "line search failed (zoom)",
    4: "saddle point reached",
    5: "maximum number of line search iterations reached",
}


def jax_scipy_bfgs(objective: Callable[..., Any], x0: Any, data: Any, config: SolverConfig) -> JittedOutput:
    """The whole BFGS solve (jittable), stopping on ``||g||_inf <= gtol`` or ``maxiter``."""
    from jax.scipy.optimize import minimize

    options = {"maxiter": config.maxiter, "gtol": config.gtol, "norm": jnp.inf}
    res = minimize(objective, x0, args=(data,), method="BFGS", options=options)
    return JittedOutput(res.x, res.nit, res.status)


def describe(code: int, n_iter: int, config: SolverConfig) -> str:
    return f"jax.scipy BFGS status {code}: {STATUS.get(code, 'undefined')} after {n_iter} iteration(s)"


class JaxScipyBFGS(JaxSolver):
    """The ``jax_scipy_bfgs`` solver: :func:`jax_scipy_bfgs` as a jittable solver of the public protocol."""

    dense_hessian = True

    def __init__(self) -> None:
        super().__init__(
            jax_scipy_bfgs,
            "jax_scipy_bfgs",
            "jax.scipy.optimize.minimize(method='BFGS'), jitted",
            describe=describe,
        )
