"""``pitfalls``' figure: one bar per pitfall (log scale), its correct measurement and the floor marked."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from lbfgs_impl.plots.style import pyplot, save

#: one colour per group of pitfalls (lbfgs_impl.commands.pitfalls.rows.GROUPS)
GROUP_COLOURS = {1: "tab:red", 2: "tab:orange", 3: "tab:purple", 4: "tab:brown", 5: "tab:blue"}


def figure(doc: dict[str, Any], path: Path, title: str | None = None) -> Path:
    """Horizontal bars of each row's time; a black bar marks its correct measurement, a dashed red one
    the floor (timer rows); extrapolated times are hatched."""
    plt = pyplot()
    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * len(rows) + 1.6))
    ys = list(range(len(rows)))[::-1]
    for y, row in zip(ys, rows, strict=True):
        ax.barh(
            y,
            row["seconds"],
            color=GROUP_COLOURS.get(row["group"], "grey"),
            hatch="//" if row["extrapolated"] else None,
            edgecolor="white" if row["extrapolated"] else None,
        )
        ax.plot([row["correct_seconds"]] * 2, [y - 0.4, y + 0.4], color="black", lw=2.5)
        if "floor_s" in row:
            ax.plot([row["floor_s"]] * 2, [y - 0.4, y + 0.4], color="red", lw=1.5, ls="--")
        ax.annotate(
            f"{row['ratio']:.3g}x",
            (row["seconds"], y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    labels = [textwrap.fill(f"{r['group']}. {r['title']}", 48) for r in rows]
    ax.set_yticks(ys, labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale); ratio to the correct measurement at the bar's end")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color="black", lw=2.5, label="correct measurement of the same code"),
        Line2D([], [], color="red", lw=1.5, ls="--", label="floor (arithmetic the solve cannot skip)"),
        Patch(facecolor="grey", hatch="//", edgecolor="white", label="extrapolated from a capped run"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    lo = min(min(r["seconds"], r["correct_seconds"], r.get("floor_s", r["seconds"])) for r in rows)
    hi = max(max(r["seconds"], r["correct_seconds"]) for r in rows)
    ax.set_xlim(lo / 3, hi * 8)
    ax.set_title(title or f"JAX timing pitfalls: {doc['problem']} n={doc['n']}", fontsize=10)
    return save(fig, path)
