"""``scipy``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``, value and gradient from one jitted
:func:`jax.value_and_grad`; a host-driven solve of the public protocol (:mod:`.protocol`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize

from lbfgs_impl.solvers.base import SolverConfig
from lbfgs_impl.solvers.protocol import HostSolver

DESCRIPTION = "scipy.optimize.minimize(method='L-BFGS-B'), jitted value_and_grad"


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


def scipy_lbfgsb(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    config: SolverConfig,
    observe: Callable[[float, float], None] | None = None,
) -> scipy.optimize.OptimizeResult:
    """L-BFGS-B on the suite's ``value_and_grad``; ``observe(value, grad_inf_norm)`` (optional, for the
    report) after each iteration. Returns SciPy's result with the protocol's ``n_iter`` and ``code``."""
    last: list[Any] = [None, 0.0, None]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        out = value_and_grad(x)
        if observe is not None:
            last[:] = [np.array(x), *out]
        return out

    def callback(x: np.ndarray) -> None:
        # The accepted iterate is the line search's last evaluation: reuse it, never evaluate again.
        value, grad = (last[1], last[2]) if np.array_equal(x, last[0]) else fun(x)
        observe(value, float(np.max(np.abs(grad))))

    res = scipy.optimize.minimize(
        value_and_grad if observe is None else fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options=scipy_options(config),
        callback=None if observe is None else callback,
    )
    res.n_iter, res.code = int(res.nit), int(res.status)  # its ``message`` says why it stopped
    return res


class ScipyLBFGSB(HostSolver):
    """The ``scipy`` solver: :func:`scipy_lbfgsb` as a host-driven solver of the public protocol."""

    def __init__(self) -> None:
        super().__init__(scipy_lbfgsb, "scipy", DESCRIPTION)
