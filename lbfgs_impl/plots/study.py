"""The instruction-count study's figures (``scripts/instructions_study.py``): spread and detection."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from lbfgs_impl.plots.style import pyplot, save


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
    ax.axhspan(-2, 2, color="tab:green", alpha=0.08, label="±2%: check-regressions' floor")
    ax.set_xticks(range(len(keys)), [k.replace("/", "\n") for k in keys], fontsize=8)
    ax.set_ylabel("instructions vs median of its processes (%)")
    ax.set_title(f"Instruction counts under callgrind: {n} processes per benchmark (quick grid)")
    ax.legend(loc="upper right", fontsize=8)
    save(fig, path)
    return path


def detection_pairs(result: dict[str, Any]) -> int:
    """Pairs per detection level of a study's verdicts (the same for every level of one study)."""
    return max((len(rows) for rows in result["detection"].values()), default=0)


AA_X = 1.8  # where the unchanged (A/A) pairs are drawn on the log axis of injected extra compute


def _points(
    aa_flags: list[bool] | None, specs: list[str], result: dict[str, Any], signal: str
) -> tuple[list[float], list[float]]:
    """(injected %, % of pairs flagged) for one solver and signal ("instructions" or "wall"); the
    unchanged A/A pairs, where given, first at ``AA_X``: the false-alarm rate detections are read against."""
    xs, ys = [], []
    if aa_flags is not None:
        xs.append(AA_X)
        ys.append(100 * sum(aa_flags) / len(aa_flags))
    for spec in specs:
        rows = result["detection"][spec]
        xs.append(100 * float(spec.split(":")[1]))
        ys.append(100 * sum(r[signal] for r in rows) / len(rows))
    return xs, ys


def detection(study: dict[str, Any], result: dict[str, Any], path: Path) -> Path:
    """Share of pairs flagged against the injected extra compute: instructions vs wall time."""
    import matplotlib.ticker

    plt = pyplot()
    pairs = detection_pairs(result)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for spec_solver, marker, color in (("optax_while", "o", "tab:green"), ("scipy", "s", "tab:blue")):
        specs = sorted(
            (s for s in result["detection"] if s.startswith(spec_solver + ":")),
            key=lambda s: float(s.split(":")[1]),
        )
        if not specs:
            continue
        aa = result.get("aa_seed", {}).get(spec_solver)
        xs, instr = _points(aa, specs, result, "instructions")
        ax.plot(xs, instr, marker=marker, color=color, label=f"{spec_solver}: instructions")
        if study["wall"]:
            levels, wall = _points(result.get("wall_aa", {}).get(spec_solver), specs, result, "wall")
            ax.plot(
                levels,
                wall,
                marker=marker,
                linestyle="--",
                color=color,
                label=f"{spec_solver}: wall time (10%, Mann-Whitney)",
            )
    ax.set_xscale("log")
    ax.set_xticks([AA_X, 3, 5, 10, 25], ["none\n(A/A)", "3%", "5%", "10%", "25%"])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(-5, 105)
    ax.set_xlabel("injected extra compute (% of the solve's iterations)")
    ax.set_ylabel(f"pairs flagged (% of {pairs} disjoint pairs)")
    ax.set_title("Pairs flagged slower: unchanged (A/A) and injected slowdowns, same pairs")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, path)
    return path
