"""The README's explain section states the attribution rules the code applies."""

from pathlib import Path

from lbfgs_impl.measure.attribution import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_attribution_rule():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Where an iteration's instructions go: `lbfgs-bench explain`", 1)[1]
    section = section.split("\n## ", 1)[0]
    for category in CATEGORIES:
        assert f"| {category.label} | {category.rule} |" in section, category.key
    assert text.index("`lbfgs-bench explain`") < text.index("## Tracking performance with pytest-benchmark")
