"""The instruction-count study's figures (``scripts/instructions_study.py``): spread and detection."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from lbfgs_impl.plots.style import pyplot, save, solver_style
from lbfgs_impl.tracking.runs import Thresholds, percent


def instruction_spread(study: dict[str, Any], path: Path) -> Path:
    """Each process's count relative to its benchmark's median, one column per benchmark."""
    plt = pyplot()
    n = study["processes"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    keys = list(study["spread"])
    for i, key in enumerate(keys):
        samples = study["spread"][key]["samples"]
        med = statistics.median(samples)
        ax.scatter([i] * len(samples), [100 * (s / med - 1) for s in samples], s=18, alpha=0.7)
    floor = Thresholds().instructions  # the gate's, as it is today
    ax.axhspan(
        -100 * floor,
        100 * floor,
        color="tab:green",
        alpha=0.08,
        label=f"±{percent(floor)}: check-regressions' floor",
    )
    ax.set_xticks(range(len(keys)), [k.replace("/", "\n") for k in keys], fontsize=8)
    ax.set_ylabel("instructions vs median of its processes (%)")
    ax.set_title(f"Instruction counts under callgrind: {n} processes per benchmark (quick grid)")
    ax.legend(loc="upper right", fontsize=8)
    save(fig, path)
    return path


def detection_pairs(result: dict[str, Any]) -> int:
    """Pairs per detection level of a study's verdicts (the same for every level of one study)."""
    return max((len(rows) for rows in result["detection"].values()), default=0)


AA_X = 0.6  # where the unchanged (A/A) pairs are drawn: this times the lowest level (log axis), left of them


def _flagged_share(directions: list[int]) -> float:
    """Percent of pairs flagged slower (direction 1)."""
    return 100 * sum(d == 1 for d in directions) / len(directions)


def _levels(specs: list[str], result: dict[str, Any], signal: str) -> tuple[list[float], list[float]]:
    """(injected %, % of pairs flagged slower) for one solver's levels; signal: "instructions" or "wall"."""
    return (
        [100 * float(spec.split(":")[1]) for spec in specs],
        [_flagged_share([r[f"{signal}_direction"] for r in result["detection"][spec]]) for spec in specs],
    )


def detected_solvers(result: dict[str, Any]) -> list[str]:
    """Every solver the study injected work into, in the study's order (each gets its own curve)."""
    return list(dict.fromkeys(spec.split(":")[0] for spec in result["detection"]))


def _level_ticks(result: dict[str, Any]) -> tuple[float, list[float], list[str]]:
    """Where the A/A pairs are drawn, and the x ticks: that place, then the study's own levels (in %)."""
    levels = sorted({float(spec.split(":")[1]) for spec in result["detection"]}) or [0.03]
    aa_at = AA_X * 100 * levels[0]
    return aa_at, [aa_at * 1.035, *(100 * x for x in levels)], ["none\n(A/A)", *map(percent, levels)]


def detection(study: dict[str, Any], result: dict[str, Any], path: Path) -> Path:
    """Share of pairs flagged slower against the injected extra compute, instructions vs wall time;
    each solver's unchanged (A/A) pairs drawn apart at the left: the false-alarm rate its
    detections are read against (not a point of the same curve)."""
    import matplotlib.ticker

    plt = pyplot()
    pairs, (aa_at, ticks, labels) = detection_pairs(result), _level_ticks(result)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, solver in enumerate(detected_solvers(result)):
        color, marker = solver_style(solver)
        specs = sorted(
            (s for s in result["detection"] if s.startswith(solver + ":")),
            key=lambda s: float(s.split(":")[1]),
        )
        aa_x = aa_at * (1 + 0.07 * i)  # side by side, so equal rates do not hide each other
        x, flagged = _levels(specs, result, "instructions")
        ax.plot(
            [level * (1 + 0.03 * i) for level in x],  # apart too, so equal rates stay visible
            flagged,
            marker=marker,
            color=color,
            label=f"{solver}: instructions",
        )
        if aa := result.get("aa_seed", {}).get(solver):
            ax.plot([aa_x], [_flagged_share(aa)], marker=marker, color=color, linestyle="none")
        if study["wall"]:
            ax.plot(
                *_levels(specs, result, "wall"),
                marker=marker,
                linestyle="--",
                fillstyle="none",
                color=color,
                label=f"{solver}: wall time (10%, Mann-Whitney)",
            )
            if aa := result.get("wall_aa", {}).get(solver):
                ax.plot(
                    [aa_x],
                    [_flagged_share(aa)],
                    marker=marker,
                    fillstyle="none",
                    color=color,
                    linestyle="none",
                )
    ax.axvline(aa_at * 1.3, color="0.6", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(-5, 105)
    ax.set_xlabel("injected extra compute (% of the solve's iterations)")
    ax.set_ylabel(f"pairs flagged (% of {pairs} disjoint pairs)")
    title = "Pairs flagged slower: unchanged (A/A) pairs and injected slowdowns"
    if study["wall"] and study.get("wall_order") != "rounds":  # a study timed before the rounds
        title += "\n(wall time timed level after level: its ratios include the drift between levels)"
    ax.set_title(title, fontsize=10 if "\n" in title else None)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, path)
    return path
