"""``jaxopt_lbfgs``: :class:`jaxopt.LBFGS` (zoom line search), the whole run inside one jit.

jaxopt stops on the 2-norm of the gradient (``tol``); with ``tol = gtol`` that
is a stricter test than the suite's ``||g||_inf <= gtol``. jaxopt is no longer
developed upstream but still widely used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from lbfgs_impl.solvers.base import JittedOutput, JittedSolver, SolverConfig


class JaxoptLBFGS(JittedSolver):
    name = "jaxopt_lbfgs"
    description = "jaxopt.LBFGS inside one jit (stops on ||g||_2 <= gtol)"
    package = "jaxopt"

    def jax_solve(
        self, objective: Callable[..., Any], x0: Any, data: Any, config: SolverConfig
    ) -> JittedOutput:
        import jaxopt

        solver = jaxopt.LBFGS(
            fun=objective, maxiter=config.maxiter, tol=config.gtol, history_size=config.memory_size
        )
        params, state = solver.run(x0, data)
        return JittedOutput(params, state.iter_num, (state.error <= config.gtol).astype(jnp.int64))

    def describe(self, code: int, n_iter: int, config: SolverConfig) -> str:
        if code:
            return "jaxopt stopped on ||g||_2 <= tol"
        if n_iter >= config.maxiter:
            return f"jaxopt reached maxiter={config.maxiter}"
        return "jaxopt stopped early (its line search made no progress)"
