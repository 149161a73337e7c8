"""The figures of ``lbfgs-bench history``: one per series, the figures of each release side by side."""

from __future__ import annotations

from pathlib import Path

from lbfgs_impl.commands.history.steps import Point, Step
from lbfgs_impl.plots.style import pyplot, save, solver_style

PANELS = (
    ("solve", 1e6, "steady solve (M instructions)"),
    ("per_iteration", 1e3, "per iteration (k instructions)"),
    ("compile", 1e9, "first call's compile (G instructions)"),
    ("kernels_per_iteration", 1.0, "kernels per iteration (static HLO)"),
    ("n_iter", 1.0, "iterations"),
)


def series_figure(points: list[Point], steps: list[Step], title: str, path: Path) -> Path:
    """One panel per figure of :data:`PANELS` over the releases; each named step a dashed line."""
    plt = pyplot()
    colour, marker = solver_style("optax_while")
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(max(6.0, 0.75 * len(points) + 2), 11), sharex=True)
    labels = [p.label for p in points]
    x = list(range(len(points)))
    for ax, (attr, scale, name) in zip(axes, PANELS, strict=True):
        ys = [getattr(p, attr) for p in points]
        xs = [i for i, y in zip(x, ys, strict=True) if y is not None]
        ax.plot(xs, [y / scale for y in ys if y is not None], color=colour, marker=marker)
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
        for s in steps:
            if attr == s.figure or (attr == "per_iteration" and s.figure == "solve"):
                ax.axvline(labels.index(s.after) - 0.5, color="tab:red", linestyle="--", linewidth=0.8)
    axes[-1].set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    axes[0].set_title(title, fontsize=10)
    return save(fig, path)
