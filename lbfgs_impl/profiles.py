"""Dolan-Moré performance profiles and the suite's one success rule.

E. D. Dolan and J. J. Moré, "Benchmarking optimization software with
performance profiles", Math. Programming 91:201-213, 2002: for solver s on
problem p with cost t_{p,s} (time, evaluations, instructions), the ratio
r_{p,s} = t_{p,s} / min_s t_{p,s}, infinite when s failed on p; the profile
rho_s(tau) is the fraction of problems with r_{p,s} <= tau. rho_s(1) is how
often s was the cheapest; rho_s at large tau is how often it solved the problem
at all.

Success is decided here, the same way for every solver, never by a library's
own flag: the final value must be finite and close to the known minimum
relative to the start, ``f - f* <= tol * (f(x0) - f*)`` with ``tol = 1e-5``
(the measure of Moré and Wild, 2009).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

SUCCESS_TOL = 1e-5


def solved(value: float, f_star: float, f0: float, tol: float = SUCCESS_TOL) -> bool:
    """The suite's success rule: ``f - f* <= tol * (f(x0) - f*)`` with a finite ``f``."""
    if not math.isfinite(value):
        return False
    return value - f_star <= tol * max(f0 - f_star, 0.0)


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
