"""The README's quick start is the front door: keep it true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands():
    run_cmd, test_cmd = quick_start_commands()
    assert "pip install ." in run_cmd and run_cmd.endswith("lbfgs-bench compare")
    assert "pip install '.[test]'" in test_cmd and "pytest" in test_cmd


def test_ci_runs_the_readme_test_command():
    _, test_cmd = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci.splitlines()


def test_readme_fits_on_two_screens():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_readme_headline_is_generated_from_committed_data():
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- generated:headline -->", 1)[1].split("<!-- /generated:headline -->", 1)[0]
    assert "| solver |" in block and "docs/figures/headline_times.png" in block
    assert (ROOT / "docs" / "data" / "headline" / "compare.json").exists()


def test_readme_names_every_command():
    import importlib

    from lbfgs_impl.commands import COMMAND_MODULES

    text = (ROOT / "README.md").read_text()
    for name in COMMAND_MODULES:
        command = importlib.import_module(name).NAME
        assert f"`lbfgs-bench {command}" in text, command
        assert f"(docs/guide/{command}.md)" in text, command
