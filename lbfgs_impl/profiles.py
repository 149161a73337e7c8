"""Dolan-Moré performance profiles and the suite's one success rule.

E. D. Dolan and J. J. Moré, "Benchmarking optimization software with
performance profiles", Math. Programming 91:201-213, 2002: for solver s on
problem p with cost t_{p,s} (time, evaluations, instructions), the ratio
r_{p,s} = t_{p,s} / min_s t_{p,s}, infinite when s failed on p; the profile
rho_s(tau) is the fraction of problems with r_{p,s} <= tau (tau: the performance ratio). rho_s(1) is how
often s was the cheapest; rho_s at large tau is how often it solved the problem
at all.

Success is decided here, the same way for every solver, never by a library's
own flag, at a success tolerance ``tol`` (default ``1e-5``; never called tau,
the performance ratio's name): the value must be finite,
close to the known minimum relative to the start (the measure of Moré and
Wild, 2009), ``f - f* <= tol (f(x0) - f*)``, and close to f* itself,
``f - f* <= tol max(1, |f*|)``. The relative test alone is far too loose where
f(x0) is huge (Brown badly scaled at f = 5e6 would pass it); the absolute one
alone ignores how far the start was. Profiles are published at several
tolerances (:data:`PROFILE_TOLS`, those of Moré and Wild).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

SUCCESS_TOL = 1e-5
#: The tolerances of the published profiles (Moré and Wild, 2009).
PROFILE_TOLS: tuple[float, ...] = (1e-1, 1e-3, 1e-5, 1e-7)


def success_rule_text(tol: float = SUCCESS_TOL) -> str:
    """The rule in words, for tables and captions."""
    return f"f - f* <= {tol:g} (f(x0) - f*) and f - f* <= {tol:g} max(1, |f*|), f finite"


def solved(value: float, f_star: float, f0: float, tol: float = SUCCESS_TOL) -> bool:
    """The suite's success rule at tolerance ``tol``: see the module docstring."""
    if not math.isfinite(value):
        return False
    gap = value - f_star
    return gap <= tol * max(f0 - f_star, 0.0) and gap <= tol * max(1.0, abs(f_star))


def near(value: float, minimum: float, tol: float = SUCCESS_TOL) -> bool:
    """Two-sided closeness to a minimum value: ``|f - m| <= tol max(1, |m|)`` (which minimum was reached)."""
    return math.isfinite(value) and abs(value - minimum) <= tol * max(1.0, abs(minimum))


def ratios(costs: Mapping[str, Sequence[float | None]]) -> dict[str, np.ndarray]:
    """Performance ratios per solver; ``None`` or non-finite cost = failed = ``inf``.

    Args:
      costs: per solver, one cost per problem (the same problem order for every solver).

    Returns:
      per solver, an array of r_{p,s} (``inf`` where s failed or every solver failed on p).
    """
    names = list(costs)
    if not names:
        return {}
    if len({len(costs[s]) for s in names}) != 1:
        raise ValueError("every solver needs one cost per problem")
    table = np.array(
        [[c if c is not None and math.isfinite(c) and c > 0 else np.inf for c in costs[s]] for s in names]
    )
    best = table.min(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.isfinite(best), table / best, np.inf)
    return {s: r[i] for i, s in enumerate(names)}


def profile(costs: Mapping[str, Sequence[float | None]], taus: Sequence[float]) -> dict[str, np.ndarray]:
    """rho_s(tau) for each tau: the fraction of problems solved within a factor tau of the best."""
    rs = ratios(costs)
    taus_arr = np.asarray(taus, dtype=float)
    return {s: (r[None, :] <= taus_arr[:, None]).mean(axis=1) for s, r in rs.items()}


def tau_grid(costs: Mapping[str, Sequence[float | None]], points: int = 200) -> np.ndarray:
    """Taus from 1 to a little past the largest finite ratio, spaced evenly in log2."""
    finite = [x for r in ratios(costs).values() for x in r if math.isfinite(x)]
    top = max([2.0, *finite]) * 1.1
    return np.unique(np.concatenate([[1.0], np.logspace(0.0, math.log2(top), points, base=2.0), finite]))
