"""The pitfalls results page comes from the committed run and the quoted numbers, and only from them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lbfgs_impl.commands.pitfalls.document import seconds
from lbfgs_impl.commands.pitfalls.rows import ROWS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data" / "pitfalls"


@pytest.fixture(scope="module")
def generator():
    import sys

    if str(ROOT / "scripts" / "docs_pages") not in sys.path:  # its shared helpers (_common.py)
        sys.path.insert(0, str(ROOT / "scripts" / "docs_pages"))
    spec = importlib.util.spec_from_file_location(
        "pitfalls_page", ROOT / "scripts" / "docs_pages" / "pitfalls.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page(generator, tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    written = generator.generate(DATA, docs)
    return docs, written, (docs / "results" / "pitfalls.md").read_text()


def test_the_committed_run_is_a_full_run_of_every_pitfall():
    doc = json.loads((DATA / "pitfalls.json").read_text())
    assert [r["key"] for r in doc["rows"]] == list(ROWS)
    assert (doc["problem"], doc["n"], doc["plan"]["name"]) == ("rosenbrock", 100, "full")


def test_the_page_and_figures_are_written(page):
    docs, written, _ = page
    assert written == [
        docs / "results" / "pitfalls.md",
        docs / "figures" / "pitfalls_bars.png",
        docs / "figures" / "pitfalls_article.png",
    ]
    for path in written[1:]:
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_the_reports_numbers_stand_beside_each_reproduction_from_the_data(page, generator):
    _, _, md = page
    doc = json.loads((DATA / "pitfalls.json").read_text())
    article = json.loads((DATA / "article.json").read_text())
    assert doc["meta"]["cpu"] in md and all(f"{k} {v}" in md for k, v in doc["meta"]["versions"].items())
    for number in article["numbers"]:
        assert f"| {number['label']} | {seconds(number['seconds'])}, {number['n_iter']} |" in md
        for kind, key in generator.REPRODUCTIONS[number["key"]]:
            m = generator._measurement(doc, kind, key)
            line = next(x for x in md.splitlines() if f"| {m['title']} |" in x)
            ratio = m["seconds"] / number["seconds"]
            assert f"| {seconds(m['seconds'])} | {m['n_iter']} | {ratio:.3g}x |" in line
    for row in doc["rows"]:
        assert row["what_went_wrong"].replace("|", "\\|") in md


def test_a_row_recorded_twice_is_refused_not_read_from_its_first_copy(generator, tmp_path):
    """Two rows with one key: which one the page's figures come from would be unknown."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    doc = json.loads((data / "pitfalls.json").read_text())
    twin = json.loads(json.dumps(doc["rows"][-1]))
    twin["seconds"] *= 2
    doc["rows"].insert(0, twin)
    (data / "pitfalls.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=f"recorded twice: {twin['key']}"):
        generator.generate(data, tmp_path / "docs")
