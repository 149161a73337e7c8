"""The mutation page counts each mutant once and takes a module's size from every record, not the first."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "data" / "mutation"


@pytest.fixture(autouse=True)
def _generators_on_path(monkeypatch):
    # the generators share scripts/docs_pages/_common.py, which regen_docs.py puts on the path
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "docs_pages"))


def _mutation():
    path = ROOT / "scripts" / "docs_pages" / "mutation.py"
    spec = importlib.util.spec_from_file_location("docs_pages_mutation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads((DATA / "mutation.json").read_text())


def test_a_mutant_recorded_twice_is_refused_not_counted_twice(doc):
    doctored = copy.deepcopy(doc)
    doctored["results"].append(copy.deepcopy(doctored["results"][-1]))
    last = doctored["results"][-1]
    with pytest.raises(ValueError, match="recorded twice") as exc:
        _mutation().render(doctored, {})
    assert f"{last['module']}:{last['index']}" in str(exc.value)


def test_a_module_whose_records_disagree_on_its_size_is_refused(doc):
    doctored = copy.deepcopy(doc)
    last = doctored["results"][-1]
    last["total_sites"] += 1  # the records of one module from two versions of it
    with pytest.raises(ValueError, match="mutation sites") as exc:
        _mutation().render(doctored, {})
    assert last["module"] in str(exc.value)


def test_each_modules_row_carries_its_records_size_and_count(doc):
    page = _mutation().render(doc, {}).split("## Per module")[1].split("## Survivors")[0]
    for module in {r["module"] for r in doc["results"]}:
        mine = [r for r in doc["results"] if r["module"] == module]
        (row,) = [line for line in page.splitlines() if line.startswith(f"| `{module}` | ")]
        assert row.split(" | ")[1] == str(mine[0]["total_sites"])
        assert row.split(" | ")[2] == str(sum(r["status"] != "error" for r in mine))
