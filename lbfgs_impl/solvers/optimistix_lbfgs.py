"""``optimistix_lbfgs`` and ``optimistix_bfgs``: :func:`optimistix.minimise` with ``LBFGS`` / ``BFGS``;
jittable solves of the public protocol (:mod:`.protocol`).

Optimistix stops on the change of the iterate and of the function value
(Cauchy termination with ``rtol``/``atol`` in the max norm), never on the
gradient, so the suite reports the gradient it reached. ``TOL = 1e-8`` for
both is the loosest setting at which L-BFGS reached ``||g||_inf <= 1e-5`` on the
seed case (1e-5 stopped it at ||g||_inf = 3e-4 after 597 steps).

Budget and iterations: optimistix's ``max_steps`` counts rejected steps too
(a rejected step evaluates the value only and shrinks the step), so
``max_steps=maxiter`` would give it about ``maxiter`` evaluations where the
others get ``maxiter`` iterations. Here the solver also terminates once
``maxiter`` steps were *accepted* (an iteration, as everywhere else), with
``max_steps = REJECTED_PER_ACCEPTED * maxiter`` as the outer safety bound
(SciPy's line search allows 20 evaluations per iteration), and ``n_iter`` is the
number of accepted steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from lbfgs_impl.solvers.base import JittedOutput, JittedSolver, SolverConfig
from lbfgs_impl.solvers.protocol import JaxSolver

TOL = 1e-8
REJECTED_PER_ACCEPTED = 20


def capped(base: type, maxiter: int) -> type:
    """``base`` (an optimistix quasi-Newton class) that also stops after ``maxiter`` accepted steps."""

    class Capped(base):  # type: ignore[misc, valid-type]
        max_accepted: ClassVar[int] = maxiter

        def terminate(self, fn, y, args, options, state, tags):
            done, result = super().terminate(fn, y, args, options, state, tags)
            return done | (state.num_accepted_steps >= self.max_accepted), result

    Capped.__name__ = f"{base.__name__}AcceptedCap{maxiter}"
    return Capped


def minimise(make: Callable[[SolverConfig], Any]) -> Callable[..., JittedOutput]:
    """The jittable solve ``(objective, x0, data, config) -> state`` of the optimistix solver
    ``make(config)``; ``n_iter`` is its accepted steps, ``code`` its result's index."""

    def solve(objective: Callable[..., Any], x0: Any, data: Any, config: SolverConfig) -> JittedOutput:
        import optimistix as optx

        max_steps = REJECTED_PER_ACCEPTED * config.maxiter
        sol = optx.minimise(objective, make(config), x0, args=data, max_steps=max_steps, throw=False)
        code = getattr(sol.result, "_value", 0)  # equinox enumeration item -> its index
        return JittedOutput(sol.value, sol.state.num_accepted_steps, code)

    return solve


def describe(code: int, n_iter: int, config: SolverConfig) -> str:
    import optimistix as optx

    messages = getattr(optx.RESULTS, "_index_to_message", [])
    text = messages[code].splitlines()[0] if 0 <= code < len(messages) and messages[code] else ""
    return f"optimistix result {code}: {text or 'successful (step and value changes below tolerance)'}"


def make_lbfgs(config: SolverConfig) -> Any:
    import optimistix as optx

    return capped(optx.LBFGS, config.maxiter)(
        rtol=TOL, atol=TOL, norm=optx.max_norm, history_length=config.memory_size
    )


def make_bfgs(config: SolverConfig) -> Any:
    import optimistix as optx

    return capped(optx.BFGS, config.maxiter)(rtol=TOL, atol=TOL, norm=optx.max_norm)


optimistix_lbfgs = minimise(make_lbfgs)
optimistix_bfgs = minimise(make_bfgs)


class OptimistixLBFGS(JaxSolver):
    """The ``optimistix_lbfgs`` solver: :func:`optimistix_lbfgs`, a jittable solver of the public protocol."""

    iterations_are_accepted_steps = True  # n_iter = accepted steps; the loop body runs for every step

    def __init__(self) -> None:
        super().__init__(
            optimistix_lbfgs,
            "optimistix_lbfgs",
            "optimistix.minimise(LBFGS, norm=max_norm), stops on step/value change or maxiter accepted",
            package="optimistix",
            describe=describe,
            install_hint=JittedSolver.install_hint,
        )


class OptimistixBFGS(JaxSolver):
    """The ``optimistix_bfgs`` solver: :func:`optimistix_bfgs`, a jittable solver of the public protocol."""

    iterations_are_accepted_steps = True
    dense_hessian = True

    def __init__(self) -> None:
        super().__init__(
            optimistix_bfgs,
            "optimistix_bfgs",
            "optimistix.minimise(BFGS, norm=max_norm), dense inverse Hessian",
            package="optimistix",
            describe=describe,
            install_hint=JittedSolver.install_hint,
        )
