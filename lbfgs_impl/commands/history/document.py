"""The figures of ``lbfgs-bench history`` as series, steps and a Markdown page (from its JSON only)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.history.plan import SERIES
from lbfgs_impl.commands.history.steps import FIGURES, THRESHOLD, Point, Step, all_steps

CAUSE_MEANING = {
    "iterations": "the solver took another path (iterations or evaluations changed) at about the same "
    "cost per iteration: a changed algorithm, whose effect depends on the problem",
    "cost per iteration": "the same iterations and evaluations, each costing a different number of "
    "instructions: a change in what one iteration executes, which every problem pays alike",
    "both": "the path and the cost per iteration both changed",
    "compile": "the first call's trace+lower+compile changed: paid once per process (or per new shape)",
    "kernels": "the compiled iteration launches a different number of kernels: XLA's fusion or the "
    "solver's loop structure changed",
    "evaluations per iteration": "the line search ran a different number of evaluations per iteration",
}


def load_runs(data_dir: Path) -> dict[str, dict[str, Any]]:
    """``{release name: run}`` from ``data_dir/runs/*.json``."""
    runs = {}
    for path in sorted((data_dir / "runs").glob("*.json")):
        runs[path.stem] = json.loads(path.read_text())
    return runs


def _median(values: list[Any]) -> Any:
    return statistics.median(values) if values else None


def point(run: dict[str, Any], label: str) -> Point:
    """One release's figures (medians over its processes); ``None`` where a figure is missing."""
    results = (run.get("instructions") or {}).get("results") or [{}]
    counted = results[0]
    static = run.get("static") or {}
    n_iter = _median(counted.get("n_iter") or []) or static.get("n_iter")
    n_fev = _median(counted.get("n_fev") or []) or static.get("n_fev")
    return Point(
        label=label,
        solve=counted.get("instructions"),
        compile=counted.get("compile_instructions"),
        kernels_per_iteration=static.get("kernels_per_iteration_total"),
        n_iter=n_iter,
        n_fev=n_fev,
        kernels_fixed=_fixed_kernels(static.get("kernels_per_iteration")),
    )


def _fixed_kernels(parts: dict[str, float] | None) -> float | None:
    if not parts:
        return None
    return sum(v for k, v in parts.items() if k != "line search")


def label(series: str, name: str, run: dict[str, Any]) -> str:
    versions = run.get("meta", {}).get("versions", {})
    if series == "optax":
        return f"optax {versions.get('optax')}"
    return f"jax {versions.get('jax')} (optax {versions.get('optax')})"


def series_points(series: str, runs: dict[str, dict[str, Any]]) -> list[tuple[str, Point]]:
    """``(release name, point)`` of each measured release of ``series``, in release order."""
    out = []
    for release in SERIES[series]:
        run = runs.get(release.name)
        if run is not None and "meta" in run:
            out.append((release.name, point(run, label(series, release.name, run))))
    return out


def steps_of(series: str, runs: dict[str, dict[str, Any]]) -> list[Step]:
    return all_steps([p for _, p in series_points(series, runs)])


def _m(x: float | None, scale: float, digits: int = 2) -> str:
    return "-" if x is None else f"{x / scale:.{digits}f}"


def series_table(series: str, runs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| release | numpy | scipy | iterations | evaluations | solve (M instr.) | per iteration (k instr.) "
        "| compile (G instr.) | kernels per iteration | flops per iteration | processes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in series_points(series, runs):
        run = runs[name]
        v = run["meta"]["versions"]
        static = run.get("static") or {}
        counted = ((run.get("instructions") or {}).get("results") or [{}])[0]
        processes = len(counted.get("instructions_samples") or [])
        lines.append(
            f"| {p.label} | {v.get('numpy')} | {v.get('scipy')} | {p.n_iter} | {p.n_fev} "
            f"| {_m(p.solve, 1e6)} | {_m(p.per_iteration, 1e3, 1)} | {_m(p.compile, 1e9, 3)} "
            f"| {_m(p.kernels_per_iteration, 1, 1)} "
            f"| {_m(static.get('iteration_flops'), 1, 0)} | {processes} |"
        )
    return lines


def uncompiled(series: str, runs: dict[str, dict[str, Any]]) -> list[str]:
    """Labels of the releases of ``series`` whose first call's compile was not counted."""
    out = []
    for name, p in series_points(series, runs):
        if not (runs[name].get("instructions") or {}).get("meta", {}).get("compile_counted", True):
            out.append(p.label)
    return out


def step_table(steps: list[Step]) -> list[str]:
    if not steps:
        return [f"No change of {THRESHOLD:.0%} or more between neighbouring releases."]
    lines = [
        "| figure | from | to | change | iterations | evaluations | solve per iteration | cause | named by |",
        "|---|---|---|---:|---|---|---:|---|---|",
    ]
    for s in steps:
        solve = s.figure == "solve" and s.per_iteration_change is not None
        per_it = f"{s.per_iteration_change:+.1%}" if solve else "-"
        lines.append(
            f"| {FIGURES[s.figure]} | {s.before} | {s.after} | {s.change:+.1%} | {s.iterations[0]} -> "
            f"{s.iterations[1]} | {s.evaluations[0]} -> {s.evaluations[1]} | {per_it} | {s.cause} "
            f"| {s.method} |"
        )
    return lines


def step_sentences(steps: list[Step]) -> list[str]:
    """One sentence per step: what a user moving between the two releases gets on this case."""
    out = []
    for s in steps:
        direction = "more" if s.change > 0 else "fewer"
        detail = ""
        if s.figure == "solve":
            per_it = "-" if s.per_iteration_change is None else f"{s.per_iteration_change:+.1%}"
            detail = (
                f" (iterations {s.iterations[0]} -> {s.iterations[1]}, evaluations {s.evaluations[0]} -> "
                f"{s.evaluations[1]}, instructions per iteration {per_it})"
            )
        better = "cheaper" if s.change < 0 else "dearer"
        out.append(
            f"- {s.before} -> {s.after}: {abs(s.change):.1%} {direction} {FIGURES[s.figure]}{detail}; "
            f"{CAUSE_MEANING[s.cause]}. On this case the move to {s.after} makes it {better}."
        )
    return out


def ab_summary(ab: dict[str, Any]) -> dict[str, Any]:
    """B over A in the A/B run: ratios of the medians and of the minima, quartiles of the per-round ratios."""
    a, b = ab["labels"]
    flat = {k: [t for r in ab["envs"][k]["times_s"] for t in r] for k in (a, b)}
    rounds = sorted(ab["round_ratios"])
    q1, q2, q3 = statistics.quantiles(rounds, n=4) if len(rounds) > 1 else (rounds[0],) * 3
    return {
        "a": a,
        "b": b,
        "median_a": statistics.median(flat[a]),
        "median_b": statistics.median(flat[b]),
        "ratio_of_medians": statistics.median(flat[b]) / statistics.median(flat[a]),
        "ratio_of_minima": min(flat[b]) / min(flat[a]),
        "round_ratio_quartiles": (q1, q2, q3),
        "round_ratio_range": (rounds[0], rounds[-1]),
        "samples": len(flat[a]),
    }


def instruction_ratio(runs: dict[str, dict[str, Any]], a: str, b: str) -> dict[str, Any] | None:
    """B over A of the figures of the counted releases named ``a`` and ``b`` (None if one is missing)."""
    if a not in runs or b not in runs or "meta" not in runs[a] or "meta" not in runs[b]:
        return None
    pa, pb = point(runs[a], a), point(runs[b], b)
    if not pa.solve or not pb.solve:
        return None
    return {
        "a": pa,
        "b": pb,
        "solve": pb.solve / pa.solve,
        "per_iteration": (pb.per_iteration or 0) / (pa.per_iteration or 1),
        "compile": pb.compile / pa.compile if pa.compile and pb.compile else None,
    }


def verdict(ratio: float, threshold: float = THRESHOLD) -> str:
    """``slower``/``faster``/``the same`` for a B-over-A ratio, with ``threshold`` as the band of sameness."""
    if ratio >= 1 + threshold:
        return "more than"
    if ratio <= 1 - threshold:
        return "less than"
    return f"within {threshold:.0%} of"
