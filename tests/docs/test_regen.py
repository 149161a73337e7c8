"""Every generated page, figure and README table is what the committed data gives; every figure is shown."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regen = _module(ROOT / "scripts" / "regen_docs.py", "regen_docs")


def _doc_texts() -> dict[str, str]:
    files = [ROOT / "README.md", *DOCS.rglob("*.md")]
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in files if "_build" not in p.parts}


def test_every_figure_is_shown_somewhere():
    texts = "\n".join(_doc_texts().values())
    unreferenced = [p.name for p in sorted((DOCS / "figures").glob("*")) if f"figures/{p.name})" not in texts]
    assert unreferenced == []


def test_every_figure_link_points_to_a_file():
    missing = [
        f"{name}: {link}"
        for name, text in _doc_texts().items()
        for link in re.findall(r"\]\(((?:\.\./|docs/)?figures/[^)]+)\)", text)
        if not (DOCS / "figures" / Path(link).name).exists()
    ]
    assert missing == []


def test_every_figure_carries_the_stamp_of_its_inputs():
    unstamped = [p.name for p in sorted((DOCS / "figures").glob("*.png")) if regen.read_stamp(p) is None]
    assert unstamped == []


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    links = [link.split("#")[0] for link in re.findall(r"\]\(([^)]+)\)", text) if "://" not in link]
    assert links and [link for link in links if not (ROOT / link).exists()] == []


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A regenerated copy of the docs and README, and the paths the generators wrote."""
    root = tmp_path_factory.mktemp("regen")
    shutil.copytree(DOCS, root / "docs", ignore=shutil.ignore_patterns("_build"))
    shutil.copy2(ROOT / "README.md", root / "README.md")
    return root, regen.regenerate(root, DOCS / "data")


def test_regenerating_from_docs_data_changes_nothing(fresh):
    """What ``python scripts/regen_docs.py --check`` checks (CI runs the command itself)."""
    root, written = fresh
    assert regen.differences(root, written) == []


def test_the_check_sees_a_changed_page(fresh, tmp_path):
    root, written = fresh
    committed = tmp_path / "committed"
    shutil.copytree(root, committed)
    assert regen.differences(root, written, committed) == []
    page = committed / "docs" / "results" / "headline.md"
    page.write_text(page.read_text().replace("| yes |", "| no |", 1))
    assert regen.differences(root, written, committed) == ["docs/results/headline.md: differs"]


def test_the_check_sees_a_figure_drawn_from_other_data(fresh, tmp_path):
    root, written = fresh
    committed = tmp_path / "committed"
    shutil.copytree(root, committed)
    figure = committed / "docs" / "figures" / "headline_times.png"
    regen.write_stamp(figure, "0" * 64)
    assert regen.differences(root, written, committed) == [
        "docs/figures/headline_times.png: drawn from other data or code (stamp differs)"
    ]


def test_the_check_sees_a_stale_results_page(fresh, tmp_path):
    root, written = fresh
    committed = tmp_path / "committed"
    shutil.copytree(root, committed)
    (committed / "docs" / "results" / "old.md").write_text("# gone\n")
    assert regen.differences(root, written, committed) == [
        "docs/results/old.md: no generator writes it (stale)"
    ]


def test_the_stamp_follows_the_data(tmp_path):
    module = regen.page_modules()["headline"]
    data = tmp_path / "headline"
    shutil.copytree(DOCS / "data" / "headline", data)
    before = regen.stamp(module, data)
    doc = json.loads((data / "compare.json").read_text())
    doc["results"][0]["steady_s"] *= 2
    (data / "compare.json").write_text(json.dumps(doc))
    assert regen.stamp(module, data) != before


def test_readme_blocks_are_filled_and_unknown_blocks_refused():
    text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n"
    assert regen.fill_readme(text, {"x": "new"}) == "a\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\nb\n"
    with pytest.raises(SystemExit, match="no generator: x"):
        regen.fill_readme(text, {})
    with pytest.raises(SystemExit, match="missing from README: y"):
        regen.fill_readme(text, {"x": "new", "y": "z"})


def test_the_alert_runs_differ_exactly_by_the_documented_change():
    alert = regen.page_modules()["alert"]
    baseline = json.loads((DOCS / "data" / "alert" / "baseline.json").read_text())
    current = json.loads((DOCS / "data" / "alert" / "current.json").read_text())
    assert current == alert.doctor(baseline)
    assert current != baseline


def test_every_generated_page_says_it_is_generated(fresh):
    _, written = fresh
    pages = [p for p in written if p.suffix == ".md" and p.name != "README.md"]
    assert pages and all(p.read_text().startswith("<!-- generated by scripts/regen_docs.py") for p in pages)
