"""``scipy``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``, value and gradient from one jitted
:func:`jax.value_and_grad`."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import scipy.optimize

from lbfgs_impl._compat import require_x64
from lbfgs_impl.problems import Problem
from lbfgs_impl.solvers.base import Result, SolverBase, SolverConfig, StageTimes, aot_compile, stop_status


def scipy_options(cfg: SolverConfig) -> dict[str, Any]:
    """L-BFGS-B's options for a :class:`SolverConfig` (``ftol=0``: only gtol and maxiter stop it)."""
    return {
        "maxiter": cfg.maxiter,
        "maxcor": cfg.memory_size,
        "gtol": cfg.gtol,
        "ftol": 0.0,
        # An evaluation budget that cannot bind before maxiter does.
        "maxfun": 100 * cfg.maxiter + 100,
    }


class _ScipyPrepared:
    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        self._value_and_grad: Any = None
        self._stages = StageTimes(0.0, 0.0)

    def compile(self) -> StageTimes:
        if self._value_and_grad is None:
            p = self.problem
            self._value_and_grad, self._stages = aot_compile(jax.value_and_grad(p.objective), p.x0, p.data)
        return self._stages

    def run(self, observe: Any = None) -> tuple[scipy.optimize.OptimizeResult, int]:
        """One solve; ``observe(value, grad_inf_norm)`` (optional, for the report) after each iteration."""
        self.compile()
        value_and_grad, data = self._value_and_grad, self.problem.data
        n_calls = 0

        last: list[Any] = [None, 0.0, None]

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal n_calls
            n_calls += 1
            value, grad = value_and_grad(x, data)
            # np.asarray first: float() on a jax.Array takes a much slower path.
            out = float(np.asarray(value)), np.asarray(grad, dtype=np.float64)
            if observe is not None:
                last[:] = [np.array(x), *out]
            return out

        def callback(x: np.ndarray) -> None:
            # The accepted iterate is the line search's last evaluation: reuse it, never evaluate again.
            value, grad = (last[1], last[2]) if np.array_equal(x, last[0]) else fun(x)
            observe(value, float(np.max(np.abs(grad))))

        res = scipy.optimize.minimize(
            fun,
            np.asarray(self.problem.x0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            options=scipy_options(self.config),
            callback=None if observe is None else callback,
        )
        return res, n_calls

    def result(self, raw: tuple[scipy.optimize.OptimizeResult, int]) -> Result:
        res, n_calls = raw
        value = float(res.fun)
        grad_inf = float(np.max(np.abs(res.jac)))
        n_iter = int(res.nit)
        converged, status = stop_status(value, grad_inf, n_iter, self.config)
        if not converged and np.isfinite(value) and n_iter < self.config.maxiter:
            status = f"not converged: scipy stopped: {res.message}"
        return Result(np.asarray(res.x), value, grad_inf, n_iter, n_calls, converged, status)


class ScipyLBFGSB(SolverBase):
    name = "scipy"
    description = "scipy.optimize.minimize(method='L-BFGS-B'), jitted value_and_grad"

    def prepare(self, problem: Problem, config: SolverConfig) -> _ScipyPrepared:
        require_x64()
        return _ScipyPrepared(problem, config.validate())
