"""pitfalls.md from pitfalls.json: the references, the floor, one table per group of pitfalls, JAX's log."""

from __future__ import annotations

from typing import Any

from lbfgs_impl.commands.pitfalls.rows import GROUPS, plural


def seconds(x: float | None) -> str:
    """A duration with three significant digits in s, ms or us."""
    if x is None:
        return "-"
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} us"


def ratio(x: float) -> str:
    return f"{x:.3g}x"


def cell(text: Any) -> str:
    """Text for a Markdown table cell (a ``|`` would end the cell)."""
    return str(text).replace("|", "\\|")


def machine_lines(meta: dict[str, Any]) -> list[str]:
    """CPU, pinning, versions and thread settings, as a list of Markdown bullet lines."""
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    pin = meta["pinning"]
    pinned = f"pinned to CPU {pin['cpus']}" if pin.get("pinned") else "not pinned"
    threads = ", ".join(f"{k}={v}" for k, v in meta["thread_env"].items() if v) or "none set"
    return [
        f"- CPU: {meta['cpu']} ({meta['cpu_count']} logical CPUs, {pinned}); Python {meta['python']}",
        f"- versions: {versions}",
        f"- thread settings: {threads}; measured {meta['timestamp_utc']}",
    ]


def load_lines(doc: dict[str, Any]) -> list[str]:
    """The load averages at the start and end of the run: other work on the CPUs slows every time."""
    load = doc.get("load_average") or {}
    if not load.get("start") or not load.get("end"):
        return []
    start, end = (", ".join(f"{x:g}" for x in load[k]) for k in ("start", "end"))
    return [
        f"- load average (1, 5, 15 min) at the start: {start}; at the end: {end} "
        f"({doc['meta']['cpu_count']} logical CPUs); wall time {doc['wall_s']:.0f} s"
    ]


def _iterations(row: dict[str, Any]) -> str:
    mark = " (measured, capped)" if row["extrapolated"] else ""
    shown = row.get("measured_iterations", row["n_iter"]) if row["extrapolated"] else row["n_iter"]
    return f"{shown}{mark} / {row['correct_n_iter']}"


def group_table(rows: list[dict[str, Any]], group: int) -> list[str]:
    """One group's Markdown table; the floor columns only where the group has a floor."""
    mine = [r for r in rows if r["group"] == group]
    floors = any("floor_s" in r for r in mine)
    head = (
        "| pitfall | time | correct | ratio | compilations in timed region | iterations (pitfall / correct) |"
    )
    rule = "|---|---:|---:|---:|---:|---|"
    if floors:
        head += " floor | verdict |"
        rule += "---:|---|"
    lines = [f"### {group}. {GROUPS[group]}", "", head + " what went wrong |", rule + "---|"]
    for r in mine:
        time_cell = seconds(r["seconds"]) + (" (extrapolated)" if r["extrapolated"] else "")
        cells = [
            r["title"],
            time_cell,
            seconds(r["correct_seconds"]),
            ratio(r["ratio"]),
            str(r["n_compilations"]),
            _iterations(r),
        ]
        if floors:
            cells += [seconds(r.get("floor_s")), r.get("verdict", "-")]
        cells.append(r["what_went_wrong"])
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    notes = [r for r in mine if r["extrapolated"]]
    for r in notes:
        lines += ["", f"Extrapolated ({r['title']}): {r['extrapolation']}."]
    return [*lines, ""]


def reference_table(refs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| correct measurement | time (median) | samples | compilations in timed region | iterations | "
        "evaluations | status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for ref in refs.values():
        lines.append(
            f"| {ref['title']} | {seconds(ref['seconds'])} | {len(ref['samples'])} | "
            f"{ref['n_compilations']} | {ref['n_iter']} | {ref['n_fev']} | {cell(ref['status'])} |"
        )
    return [*lines, ""]


def floor_lines(floor: dict[str, Any]) -> list[str]:
    ev, tl = floor["evaluation"], floor["two_loop"]
    return [
        f"The floor ({floor['source']}): one value-and-gradient evaluation "
        f"{seconds(floor['seconds_per_evaluation'])} ({ev['method']}, N = {ev['evaluations_timed']}), "
        f"one two-loop recursion {seconds(floor['seconds_per_two_loop'])} ({tl['method']}, "
        f"N = {tl['recursions_timed']}). A solve's floor is its evaluations times the first plus its "
        "iterations times the second: arithmetic it cannot skip.",
        "",
    ]


def log_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## What JAX said (`jax.log_compiles`, `jax.explain_cache_misses`)", ""]
    for r in rows:
        log = r.get("jax_log")
        if not log:
            continue
        lines += [
            f"**{r['title']}**: JAX logged {plural(log['compilations_logged'], 'compilation')} and "
            f"{plural(log['cache_misses_logged'], 'tracing-cache miss', 'tracing-cache misses')} "
            f"over {r['calls']} calls "
            f"({r['n_compilations']} counted through `jax.monitoring`). First lines:",
            "",
            "```text",
            *log["excerpt"],
            "```",
            "",
        ]
    return lines


def render(doc: dict[str, Any], figure: str | None = "pitfalls.png", heading: str = "#") -> str:
    """The whole page; ``heading`` is the top level's marks (``##`` to nest it in another page)."""
    sub = heading + "#"
    lines = [
        f"{heading} JAX timing pitfalls, measured: {doc['problem']} n={doc['n']}",
        "",
        "Each row runs the same code as a correct measurement, measured the wrong way, in the same "
        f"process ({doc['plan']['name']} plan: {doc['plan']['repeats']} samples per timing, medians "
        f"shown; {doc['measure_s']:.0f} s of measuring in all).",
        "",
        *machine_lines(doc["meta"]),
        *load_lines(doc),
        "",
        f"{sub} The correct measurements",
        "",
        *reference_table(doc["references"]),
        *floor_lines(doc["floor"]),
    ]
    if figure:
        lines += [f"![{figure}]({figure})", ""]
    lines += [f"{sub} The pitfalls", ""]
    for group in GROUPS:
        lines += [line.replace("### ", sub + "# ", 1) for line in group_table(doc["rows"], group)]
    lines += [line.replace("## ", sub + " ", 1) for line in log_lines(doc["rows"])]
    return "\n".join(lines).rstrip() + "\n"
