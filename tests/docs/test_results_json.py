"""The results JSON reference lists every field ``compare --json`` writes, and nothing else."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "reference" / "results-json.md").read_text()


def _section(title: str) -> str:
    return PAGE.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _documented(section: str) -> set[str]:
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split(" | ")[0])}


def _dict_keys(path: Path, function: str) -> set[str]:
    """The string keys of the dict literal a function returns."""
    tree = ast.parse(path.read_text())
    (fn,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    returns = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and isinstance(n.value, ast.Dict)]
    return {k.value for d in returns for k in d.keys if isinstance(k, ast.Constant)}


def test_every_row_field_is_documented():
    written = _dict_keys(ROOT / "lbfgs_impl" / "commands" / "compare" / "table.py", "row_to_dict")
    written |= _dict_keys(ROOT / "lbfgs_impl" / "records.py", "instruction_fields")
    written |= _dict_keys(ROOT / "lbfgs_impl" / "records.py", "thread_pool_fields")
    assert len(written) > 20  # the parse found the row and its instruction fields
    documented = _documented(_section("`results`: one row per solver"))
    assert documented == written


def test_every_meta_field_of_a_real_run_is_documented():
    doc = json.loads((ROOT / "docs" / "data" / "headline" / "compare.json").read_text())
    documented = _documented(_section("`meta`: the machine and the run"))
    assert set(doc["meta"]) <= documented
    assert documented - set(doc["meta"]) <= {"instructions"}  # only with --instructions
    row_fields = _documented(_section("`results`: one row per solver"))
    assert set(doc["results"][0]) <= row_fields
