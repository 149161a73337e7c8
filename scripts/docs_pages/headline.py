"""The headline: ``lbfgs-bench compare`` on the seed case, as a table and a figure (results page and README).

Data: ``docs/data/headline/compare.json``, written by ``lbfgs-bench compare --json PATH``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _common import GENERATED_NOTE, load_json, machine, versions, write_text

PAGE = "headline"
FIGURE = "headline_times.png"


def _doc(data_dir: Path) -> dict[str, Any]:
    return load_json(data_dir / "compare.json")


def _break_even(row: dict[str, Any]) -> str:
    if row["solver"] == "scipy":
        return "-"
    if row.get("break_even_solves_vs_scipy") is not None:
        return f"{row['break_even_solves_vs_scipy']} solves"
    return row.get("break_even_note") or "never"


def table(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| solver | first call (s) | steady (ms) | speedup vs SciPy | break-even | iterations | converged |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for r in doc["results"]:
        speedup = f"{r['speedup_vs_scipy']:.2f}x" if r.get("speedup_vs_scipy") is not None else "-"
        lines.append(
            f"| `{r['solver']}` | {r['first_call_s']:.2f} | {1e3 * r['steady_s']:.2f} | {speedup} "
            f"| {_break_even(r)} | {r['n_iter']} | {'yes' if r['converged'] else 'no'} |"
        )
    return lines


def caption(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    problem = meta["problem"]
    reps = meta["repeats"]
    return (
        f"`lbfgs-bench compare` on {problem['name']} n = {problem['n']}, measured on "
        f"{machine(meta)}; {versions(meta)}. Steady = median of {reps['steady']} precompiled solves "
        f"(no compilation in the timed region, checked); first call = median of {reps['first_call']} "
        "runs with JAX's caches cleared. Break-even: solves after which a solver's first call plus "
        "steady runs cost no more than SciPy's."
    )


def figure(doc: dict[str, Any], path: Path) -> Path:
    from lbfgs_impl.plots.style import SOLVER_STYLE, pyplot, save

    plt = pyplot()
    rows = doc["results"]
    names = [r["solver"] for r in rows]
    colours = [SOLVER_STYLE.get(s, ("tab:gray", "x"))[0] for s in names]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 2.8), sharey=True)
    a.barh(names, [r["first_call_s"] for r in rows], color=colours)
    a.set_xlabel("first call (s), caches cleared")
    b.barh(names, [1e3 * r["steady_s"] for r in rows], color=colours)
    b.set_xlabel("steady state (ms per solve, precompiled)")
    a.invert_yaxis()
    problem = doc["meta"]["problem"]
    fig.suptitle(f"{problem['name']} n = {problem['n']}: {machine(doc['meta'])}", fontsize=9)
    return save(fig, path)


def readme_blocks(data_dir: Path) -> dict[str, str]:
    doc = _doc(data_dir)
    body = [
        *table(doc),
        "",
        caption(doc),
        "",
        f"![first call and steady state per solver](docs/figures/{FIGURE})",
    ]
    return {"headline": "\n".join(body)}


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    doc = _doc(data_dir)
    text = [
        GENERATED_NOTE.format(page=PAGE),
        "# Headline: the seed case",
        "",
        *table(doc),
        "",
        caption(doc),
        "",
        f"![first call and steady state per solver](../figures/{FIGURE})",
        "",
        "Compare the ratios within this table; absolute times move from machine to machine and from "
        "run to run. Iterations and convergence are exact.",
        "",
    ]
    page = write_text(docs_dir / "results" / f"{PAGE}.md", "\n".join(text))
    return [page, figure(doc, docs_dir / "figures" / FIGURE)]
