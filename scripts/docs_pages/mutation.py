"""docs/results/mutation.md: the mutation run's counts per module and every survivor, from its result JSON.

Reads ``docs/data/mutation/mutation.json`` (written by ``scripts/mutation.py``) and
``docs/data/mutation/reasons.json`` (why a survivor stays: ``"module:index": "reason"``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import GENERATED_NOTE

PAGE = "results/mutation.md"


def _final(r: dict[str, Any]) -> str:
    """killed, killed by the module's other tiny-tier tests, timeout, survived, or error.

    A timeout of the slower tests is not a kill: on a loaded machine it says nothing of the mutant.
    """
    if r["status"] == "survived" and (r.get("second") or {}).get("status") == "killed":
        return "killed_second"
    return r["status"]


def _rate(survived: int, run: int) -> str:
    return f"{survived / run:.1%}" if run else "-"


def _table(rows: list[list[str]]) -> list[str]:
    head, *body = rows
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
        *("| " + " | ".join(r) + " |" for r in body),
    ]


def render(doc: dict[str, Any], reasons: dict[str, str]) -> str:
    results = doc["results"]
    by_module: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_module[r["module"]].append(r)
    keys = [f"{r['module']}:{r['index']}" for r in results]
    if twice := sorted({k for k in keys if keys.count(k) > 1}):
        raise ValueError(f"mutant(s) recorded twice, which record counts is unknown: {', '.join(twice)}")
    if mixed := sorted(m for m, rs in by_module.items() if len({r["total_sites"] for r in rs}) > 1):
        raise ValueError(f"records of one module disagree on its mutation sites: {', '.join(mixed)}")
    out = [
        GENERATED_NOTE.format(page="mutation").rstrip("\n"),
        "# Mutation run: results",
        "",
        "How the mutants are made and run: [Mutation testing](../explanation/mutation-testing.md).",
        "A mutant is *killed* when a test of its module fails, *killed (other tests)* when it passed the",
        "module's mapped tests but failed one of the module's slower tiny-tier test files, *timeout* when",
        "the mapped tests ran past the limit (counted as killed; a timeout of the slower files is not).",
        "The survival rate is what survived every test run over the mutants run (errors, if any, are",
        "left out and counted). A sampled module's rate is that of its sample.",
        "",
        "## Runs",
        "",
    ]
    runs = [["command", "started (UTC)", "machine", "Python", "JAX"]]
    for run in doc.get("runs", []):
        runs.append([f"`{run['command']}`", run["started"], run["machine"], run["python"], run["jax"]])
    out += [*_table(runs), "", "## Per module", ""]
    rows = [
        [
            "module", "mutants in module", "run", "killed", "killed (other tests)", "timeout",
            "survived", "error", "survival rate",
        ]
    ]  # fmt: skip
    totals: dict[str, int] = defaultdict(int)
    for module in sorted(by_module):
        rs = by_module[module]
        count: dict[str, int] = defaultdict(int)
        for r in rs:
            count[_final(r)] += 1
        run_n = len(rs) - count["error"]
        for key in ("killed", "killed_second", "timeout", "survived", "error"):
            totals[key] += count[key]
        totals["run"] += run_n
        totals["sites"] += rs[0]["total_sites"]
        rows.append(
            [
                f"`{module}`", str(rs[0]["total_sites"]), str(run_n), str(count["killed"]),
                str(count["killed_second"]), str(count["timeout"]), str(count["survived"]),
                str(count["error"]), _rate(count["survived"], run_n),
            ]
        )  # fmt: skip
    rows.append(
        [
            "**all**", str(totals["sites"]), str(totals["run"]), str(totals["killed"]),
            str(totals["killed_second"]), str(totals["timeout"]), str(totals["survived"]),
            str(totals["error"]), f"**{_rate(totals['survived'], totals['run'])}**",
        ]
    )  # fmt: skip
    out += [*_table(rows), "", "## Survivors", ""]
    survivors = [r for r in results if _final(r) == "survived"]
    if not survivors:
        out.append("None.")
    else:
        srows = [["module", "line", "mutation", "code", "other tests", "why it stays"]]
        for r in sorted(survivors, key=lambda r: (r["module"], r["line"], r["index"])):
            second = r.get("second")
            seen = "not run" if second is None else second["status"]
            code = r["code"].replace("|", "\\|").replace("`", "'")
            srows.append(
                [
                    f"`{r['module']}`", str(r["line"]), r["what"], f"`{code}`", seen,
                    reasons.get(f"{r['module']}:{r['index']}", "not yet examined"),
                ]
            )  # fmt: skip
        out += _table(srows)
    errors = [r for r in results if r["status"] == "error"]
    if errors:
        out += ["", "## Errors", ""]
        out += [
            f"- `{r['module']}` line {r['line']}, {r['what']}: pytest exit code {r['rc']}" for r in errors
        ]
    return "\n".join(out) + "\n"


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    doc = json.loads((Path(data_dir) / "mutation.json").read_text())
    reasons_path = Path(data_dir) / "reasons.json"
    reasons = json.loads(reasons_path.read_text()) if reasons_path.exists() else {}
    page = Path(docs_dir) / PAGE
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render(doc, reasons))
    return [page]


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    print(*generate(root / "docs" / "data" / "mutation", root / "docs"), sep="\n")
