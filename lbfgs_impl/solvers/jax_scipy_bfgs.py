"""``jax_scipy_bfgs``: :func:`jax.scipy.optimize.minimize` with ``method="BFGS"``, jitted.

Stops on ``||g||_inf <= gtol`` like the suite. Its line search gives up easily
(on the seed case after 2 iterations, status 3): that is recorded as the
result, not hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from lbfgs_impl.solvers.base import JittedOutput, JittedSolver, SolverConfig

#: ``jax.scipy.optimize.minimize(method="BFGS")`` status codes (jax/_src/scipy/optimize/bfgs.py).
STATUS = {
    0: "converged",
    1: "maximum number of BFGS iterations reached",
    3: "line search failed (zoom)",
    4: "saddle point reached",
    5: "maximum number of line search iterations reached",
}


class JaxScipyBFGS(JittedSolver):
    name = "jax_scipy_bfgs"
    description = "jax.scipy.optimize.minimize(method='BFGS'), jitted"
    dense_hessian = True

    def jax_solve(
        self, objective: Callable[..., Any], x0: Any, data: Any, config: SolverConfig
    ) -> JittedOutput:
        from jax.scipy.optimize import minimize

        options = {"maxiter": config.maxiter, "gtol": config.gtol, "norm": jnp.inf}
        res = minimize(objective, x0, args=(data,), method="BFGS", options=options)
        return JittedOutput(res.x, res.nit, res.status)

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        return f"jax.scipy BFGS status {code}: {STATUS.get(code, 'undefined')} after {n_iter} iteration(s)"
