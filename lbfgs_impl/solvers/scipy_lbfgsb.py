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

    def run(self) -> tuple[scipy.optimize.OptimizeResult, int]:
        self.compile()
        value_and_grad, data = self._value_and_grad, self.problem.data
        n_calls = 0

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal n_calls
            n_calls += 1
            value, grad = value_and_grad(x, data)
            # np.asarray first: float() on a jax.Array takes a much slower path.
            return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)

        cfg = self.config
        res = scipy.optimize.minimize(
            fun,
            np.asarray(self.problem.x0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": cfg.maxiter,
                "maxcor": cfg.memory_size,
                "gtol": cfg.gtol,
                "ftol": 0.0,
                # An evaluation budget that cannot bind before maxiter does.
                "maxfun": 100 * cfg.maxiter + 100,
            },
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
