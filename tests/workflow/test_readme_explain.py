"""The explain guide states the attribution rules the code applies."""

from pathlib import Path

from lbfgs_impl.measure.attribution import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]


def test_explain_guide_lists_every_attribution_rule():
    text = (ROOT / "docs" / "guide" / "explain.md").read_text()
    section = text.split("## The categories", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == [f"| {category.label} | {category.rule} |" for category in CATEGORIES]


def test_readme_points_to_the_explain_guide():
    text = (ROOT / "README.md").read_text()
    assert "`lbfgs-bench explain OUTDIR`" in text and "(docs/guide/explain.md)" in text
