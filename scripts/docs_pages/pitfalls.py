"""The pitfalls results page: the user's three numbers beside the suite's reproductions, from committed data.

Inputs (``docs/data/pitfalls/``): ``pitfalls.json``, one full ``lbfgs-bench pitfalls`` run (with its
machine and versions), and ``article.json``, the three numbers of the report that motivated the
suite, quoted. Writes ``docs/results/pitfalls.md``, ``docs/figures/pitfalls_bars.png`` (every
pitfall) and ``docs/figures/pitfalls_article.png`` (the three numbers and their reproductions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _common import GENERATED_NOTE

from lbfgs_impl.commands.pitfalls.document import cell, ratio, render, seconds
from lbfgs_impl.commands.pitfalls.rows import plural
from lbfgs_impl.plots.pitfalls import figure
from lbfgs_impl.plots.style import pyplot, save

PAGE = "pitfalls"

#: which measurements reproduce each of the article's numbers: (kind, key) with kind "reference" or "row"
REPRODUCTIONS = {
    "scipy": [("reference", "scipy"), ("row", "scipy_two_calls"), ("row", "scipy_not_jitted")],
    "optax_before": [
        ("row", "first_call_while"),
        ("row", "first_call_loop"),
        ("row", "jit_anew"),
        ("row", "new_function"),
        ("row", "static_scalar"),
        ("row", "eager"),
        ("reference", "loop"),
    ],
    "optax_after": [("row", "async_while"), ("reference", "while")],
}


def _load(data_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = json.loads((data_dir / "pitfalls.json").read_text())
    keys = [r["key"] for r in doc["rows"]]
    if twice := sorted({k for k in keys if keys.count(k) > 1}):
        raise ValueError(f"pitfall row(s) recorded twice: {', '.join(twice)}")
    return doc, json.loads((data_dir / "article.json").read_text())


def _measurement(doc: dict[str, Any], kind: str, key: str) -> dict[str, Any]:
    """Title, seconds, iterations and compilations of a reference or a pitfall row."""
    if kind == "reference":
        ref = doc["references"][key]
        return {"title": f"correct: {ref['title']}", **{k: ref[k] for k in ("seconds", "n_iter")}, "row": ref}
    row = next(r for r in doc["rows"] if r["key"] == key)
    n_iter = row.get("measured_iterations", row["n_iter"]) if row["extrapolated"] else row["n_iter"]
    title = f"pitfall: {row['title']}" + (" (extrapolated)" if row["extrapolated"] else "")
    return {"title": title, "seconds": row["seconds"], "n_iter": n_iter, "row": row}


def _note(kind: str, m: dict[str, Any]) -> str:
    row = m["row"]
    notes = [f"{plural(row['n_compilations'], 'compilation')} in the timed region"]
    if "floor_s" in row:
        notes.append(f"floor {seconds(row['floor_s'])}: {row['verdict']}")
    if row.get("extrapolated"):
        notes.append("iterations measured before the cap")
    return "; ".join(notes)


def article_table(doc: dict[str, Any], article: dict[str, Any]) -> list[str]:
    lines = [
        "| the report's number | its time, iterations | measured by the suite | time | iterations | "
        "time / the report's | notes |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for number in article["numbers"]:
        for i, (kind, key) in enumerate(REPRODUCTIONS[number["key"]]):
            m = _measurement(doc, kind, key)
            head = (
                [number["label"], f"{seconds(number['seconds'])}, {number['n_iter']}"] if i == 0 else ["", ""]
            )
            cells = [
                *head,
                m["title"],
                seconds(m["seconds"]),
                str(m["n_iter"]),
                ratio(m["seconds"] / number["seconds"]),
                _note(kind, m),
            ]
            lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return [*lines, ""]


def article_figure(doc: dict[str, Any], article: dict[str, Any], path: Path) -> Path:
    """Per number of the report: its bar (black) and the suite's measurements of the same thing."""
    import textwrap

    plt = pyplot()
    groups = article["numbers"]
    sizes = [1 + len(REPRODUCTIONS[number["key"]]) for number in groups]
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(9, 0.42 * sum(sizes) + 1.8), sharex=True, height_ratios=sizes
    )
    for ax, number in zip(axes, groups, strict=True):
        items = [(f"the report: {number['label']}", number["seconds"], "black")]
        for kind, key in REPRODUCTIONS[number["key"]]:
            m = _measurement(doc, kind, key)
            items.append((m["title"], m["seconds"], "tab:green" if kind == "reference" else "tab:red"))
        ys = list(range(len(items)))[::-1]
        ax.barh(ys, [s for _, s, _ in items], color=[c for _, _, c in items])
        ax.set_yticks(ys, [textwrap.fill(label, 60) for label, _, _ in items], fontsize=7)
        ax.set_xscale("log")
        ax.set_title(
            f"{number['label']}: {seconds(number['seconds'])}, {number['n_iter']} iterations", fontsize=9
        )
    axes[-1].set_xlabel("seconds (log scale); black: the report, green: correct, red: pitfall")
    fig.suptitle(f"The report's numbers and the suite's measurements ({doc['meta']['cpu']})", fontsize=10)
    return save(fig, path)


def _load_note(doc: dict[str, Any]) -> list[str]:
    load = doc.get("load_average") or {}
    if not load.get("start"):
        return []
    return [
        f"The machine was shared while it ran: load average {load['start'][0]:g} at the start and "
        f"{load['end'][0]:g} at the end (1 minute) on {doc['meta']['cpu_count']} logical CPUs. Other "
        "work on the CPUs slows the timings (not all by the same factor); the ratios measured side by "
        "side within the run are what it compares, not its times with another machine's.",
        "",
    ]


def page(doc: dict[str, Any], article: dict[str, Any]) -> str:
    meta = doc["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [
        GENERATED_NOTE.format(page="pitfalls").rstrip("\n"),
        "# Pitfalls: the report's numbers, reproduced",
        "",
        f"The report that motivated the suite, {article['source']}, gave three timings for "
        f"{article['problem']} n={article['n']} (quoted as given; the suite did not measure them). "
        f"`lbfgs-bench pitfalls` ran the same case ({doc['problem']} n={doc['n']}) on {meta['cpu']} "
        f"with {versions}, and measured the correct figure of each solver beside the ways of timing it "
        "wrongly. Each number of the report is set beside the measurements that can produce it; which "
        "of them the report's author made is not known.",
        "",
        *_load_note(doc),
        *article_table(doc, article),
        "![the report's numbers and the reproductions](../figures/pitfalls_article.png)",
        "",
        "How the command works and how to read each row: [the user guide](../guide/pitfalls.md).",
        "",
    ]
    body = render(doc, figure=None, heading="##").splitlines()
    lines += [*body[:1], "", "![every pitfall](../figures/pitfalls_bars.png)", *body[1:]]
    return "\n".join(lines).rstrip() + "\n"


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    """Write the page and its two figures from ``data_dir``; return the paths written."""
    data_dir, docs_dir = Path(data_dir), Path(docs_dir)
    if not (data_dir / "pitfalls.json").exists() and (data_dir / PAGE / "pitfalls.json").exists():
        data_dir = data_dir / PAGE
    doc, article = _load(data_dir)
    bars = figure(doc, docs_dir / "figures" / "pitfalls_bars.png")
    numbers = article_figure(doc, article, docs_dir / "figures" / "pitfalls_article.png")
    out = docs_dir / "results" / "pitfalls.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(doc, article))
    return [out, bars, numbers]
