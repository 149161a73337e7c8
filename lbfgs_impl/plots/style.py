"""The suite's one plotting style: solver colours and markers, the Agg backend, atomic PNG writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: colour and marker per solver; a solver not listed is drawn grey with an ``x``.
SOLVER_STYLE = {
    "scipy": ("tab:blue", "o"),
    "optax_loop": ("tab:orange", "s"),
    "optax_while": ("tab:green", "^"),
    # peers: their own colours and open-ish markers (legends also mark them "(peer)")
    "jaxopt_lbfgs": ("tab:purple", "D"),
    "optimistix_lbfgs": ("tab:brown", "v"),
    "optimistix_bfgs": ("tab:pink", "P"),
    "jax_scipy_bfgs": ("tab:gray", "X"),
}


def solver_style(solver: str) -> tuple[str, str]:
    """``(colour, marker)`` of ``solver``, the same in every figure (grey ``x`` for one not listed)."""
    return SOLVER_STYLE.get(solver, ("gray", "x"))


def solver_ticks(ax: Any, solvers: list[str]) -> None:
    """Name each bar's solver on the x-axis in the solver's colour (the bars' colours are categories)."""
    ax.set_xticks(range(len(solvers)), solvers)
    for label, solver in zip(ax.get_xticklabels(), solvers, strict=True):
        label.set_color(solver_style(solver)[0])


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are only ever written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, *, layout: bool = True) -> Path:
    """Lay out (unless the caller did), write atomically (:func:`lbfgs_impl.outputs.save_figure`), close."""
    from lbfgs_impl.outputs import save_figure

    if layout:
        fig.tight_layout()
    save_figure(fig, path)
    pyplot().close(fig)
    return path
