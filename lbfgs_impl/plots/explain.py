"""``explain``'s figures: instructions per iteration by category, and kernels per iteration by loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lbfgs_impl.plots.style import pyplot, save, solver_ticks

#: one colour per attribution category (keys of lbfgs_impl.measure.attribution.CATEGORIES); none is a
#: solver's colour (:data:`~lbfgs_impl.plots.style.SOLVER_STYLE`), which names the bars' solvers instead
CATEGORY_COLOURS = {
    "xla_generated": "tab:red",
    "xla_kernels": "salmon",
    "xla_runtime": "gold",
    "cpython": "tab:olive",
    "numpy": "khaki",
    "scipy_lbfgsb": "tab:cyan",
    "blas_lapack": "darkslategray",
    "libc_libm": "navy",
    "other": "black",
    "scheduler": "lightgrey",
}


def categories(
    per_solver: dict[str, dict[str, float]], labels: dict[str, str], title: str, path: Path
) -> Path:
    """Stacked bars: instructions per iteration by category (``per_solver[solver][category]``)."""
    plt = pyplot()
    solvers = list(per_solver)
    fig, ax = plt.subplots(figsize=(1.2 * len(solvers) + 4.5, 4.2))
    bottom = [0.0] * len(solvers)
    for key, colour in CATEGORY_COLOURS.items():
        values = [per_solver[s].get(key, 0.0) for s in solvers]
        if not any(values):
            continue
        hatch = "//" if key == "scheduler" else None
        ax.bar(solvers, values, bottom=bottom, color=colour, label=labels.get(key, key), hatch=hatch)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_yscale("log" if max(bottom) > 50 * max(min(bottom), 1.0) else "linear")
    ax.set_ylabel("instructions per iteration (callgrind)")
    ax.set_title(title, fontsize=10)
    solver_ticks(ax, solvers)
    ax.tick_params(axis="x", rotation=20)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return save(fig, path)


def categories_by_size(rows: list[dict[str, Any]], labels: dict[str, str], title: str, path: Path) -> Path:
    """One panel per n: the stacked shares (of the net count) of each solver, from several explain runs."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows) + 1.5, 4.0), sharey=True, squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        solvers = list(row["shares"])
        bottom = [0.0] * len(solvers)
        for key, colour in CATEGORY_COLOURS.items():
            values = [100 * row["shares"][s].get(key, 0.0) for s in solvers]
            if key == "scheduler" or not any(values):
                continue
            ax.bar(solvers, values, bottom=bottom, color=colour, label=labels.get(key, key))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(f"n = {row['n']}", fontsize=10)
        solver_ticks(ax, solvers)
        ax.tick_params(axis="x", rotation=35, labelsize=7)
    axes[0][0].set_ylabel("% of an iteration's instructions (scheduler excluded)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def kernels(per_solver: dict[str, dict[str, float]], title: str, path: Path) -> Path:
    """Stacked bars: kernels (thunks) XLA executes per iteration, by the loop they run in."""
    plt = pyplot()
    solvers = list(per_solver)
    parts = sorted({p for v in per_solver.values() for p in v})
    colours = {  # loops, not solvers: no solver's colour
        "iteration body": "tab:red",
        "fixed loops": "gold",
        "line search": "tab:cyan",
        "evaluations": "tab:olive",
    }
    fig, ax = plt.subplots(figsize=(1.2 * len(solvers) + 3.5, 4.0))
    bottom = [0.0] * len(solvers)
    for part in parts:
        values = [per_solver[s].get(part, 0.0) for s in solvers]
        ax.bar(solvers, values, bottom=bottom, color=colours.get(part, "silver"), label=part)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("kernels executed per iteration (static estimate)")
    ax.set_title(title, fontsize=10)
    solver_ticks(ax, solvers)
    ax.tick_params(axis="x", rotation=20)
    ax.legend(fontsize=8)
    return save(fig, path)
