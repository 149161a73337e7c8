"""Dolan-Moré performance profiles as figures (the maths is :mod:`lbfgs_impl.profiles`)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from lbfgs_impl.plots.style import pyplot, save, solver_style
from lbfgs_impl.profiles import profile, tau_grid

#: the performance ratio is tau (Dolan and Moré); the success tolerance is tol (never tau)
RATIO_LABEL = "log2(tau), tau: performance ratio (cost within a factor tau of the best solver)"


def _style(solver: str) -> dict[str, Any]:
    colour, marker = solver_style(solver)
    return {"color": colour, "marker": marker, "markevery": 0.1, "markersize": 4}


def plot_profile(costs: dict[str, Any], label: str, n_problems: int, path: Path) -> None:
    """The Dolan-Moré profile of ``costs[solver][problem]`` (inf = failed) on a log2 axis, as a PNG.

    ``label`` names the cost ("steady time", "f+g evaluations", ...); ``n_problems`` goes in the title.
    """
    plt = pyplot()
    taus = tau_grid(costs)
    rho = profile(costs, taus)
    fig, ax = plt.subplots(figsize=(8, 5))
    for s, curve in rho.items():
        ax.step(np.log2(taus), curve, where="post", linewidth=1.8, label=s, **_style(s))
    ax.set_xlabel(RATIO_LABEL)
    ax.set_ylabel("fraction of problems solved")
    title = f"Performance profile on {label}, {n_problems} MGH problems (Dolan-Moré)"
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)  # long labels: wrapped, not cut off
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path)


def plot_profiles_at(
    costs_by_tol: dict[float, dict[str, Any]], label: str, n_problems: int, path: Path
) -> None:
    """One Dolan-Moré panel per success tolerance (Moré-Wild's 1e-1 ... 1e-7), side by side, as a PNG."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(costs_by_tol), figsize=(4.2 * len(costs_by_tol), 4.2), sharey=True)
    grids = {tol: tau_grid(costs) for tol, costs in costs_by_tol.items()}
    right = max((float(np.log2(g[-1])) for g in grids.values() if len(g)), default=1.0) or 1.0
    for ax, (tol, costs) in zip(np.atleast_1d(axes), costs_by_tol.items(), strict=True):
        taus = grids[tol]
        for s, curve in profile(costs, taus).items():
            # each curve carried flat to the shared right edge: a panel's grid may end sooner
            xs, ys = np.append(np.log2(taus), right), np.append(curve, curve[-1] if len(curve) else 0.0)
            ax.step(xs, ys, where="post", linewidth=1.6, label=s, **_style(s))
        ax.set_title(f"success tolerance tol = {tol:g}")
        ax.set_xlabel("log2(tau), tau: performance ratio")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0.0, right * 1.02)  # one x-range for every tolerance, so the panels compare
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of problems solved")
    np.atleast_1d(axes)[-1].legend(loc="lower right", fontsize=7)
    fig.suptitle(f"Performance profiles on {label}, {n_problems} MGH problems, at each success tolerance tol")
    save(fig, path)
