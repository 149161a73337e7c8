"""Dolan-Moré performance profiles as figures (the maths is :mod:`lbfgs_impl.profiles`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lbfgs_impl.plots.style import pyplot, save
from lbfgs_impl.profiles import profile, tau_grid


def plot_profile(costs: dict[str, Any], label: str, n_problems: int, path: Path) -> None:
    """The Dolan-Moré profile of ``costs[solver][problem]`` (inf = failed) on a log2 axis, as a PNG.

    ``label`` names the cost ("steady time", "f+g evaluations", ...); ``n_problems`` goes in the title.
    """
    plt = pyplot()
    taus = tau_grid(costs)
    rho = profile(costs, taus)
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = ["-", "--", "-.", ":"]
    for i, (s, curve) in enumerate(rho.items()):
        ax.step(np.log2(taus), curve, where="post", linestyle=styles[i % 4], linewidth=1.8, label=s)
    ax.set_xlabel("log2(tau): within a factor tau of the best solver on the problem")
    ax.set_ylabel("fraction of problems solved")
    ax.set_title(f"Performance profile on {label}, {n_problems} MGH problems (Dolan-Moré)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path)
