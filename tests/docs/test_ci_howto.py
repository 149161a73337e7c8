"""The copy-paste workflow of "Use it in your CI" is a valid, audited GitHub Actions workflow."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "howto" / "use-in-ci.md"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed (it comes with the test extras)"
    return path


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    (block,) = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)
    path = tmp_path_factory.mktemp("wf") / "benchmarks.yml"
    path.write_text(block)
    return path


def test_workflow_matches_the_github_schema(workflow):
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_passes_zizmor_offline(workflow):
    proc = subprocess.run([tool("zizmor"), "--offline", str(workflow)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_gate_and_keeps_a_baseline_per_machine(workflow):
    text = workflow.read_text()
    assert "lbfgs-bench check-regressions .perf/baseline.json .perf/current.json" in text
    assert "--benchmark-save-data" in text  # raw samples: the rank test needs them
    assert "this_machine_key()" in text and "steps.machine.outputs.key" in text
    assert "permissions: {}" in text and "persist-credentials: false" in text


def test_the_machine_key_the_workflow_calls_exists():
    from lbfgs_impl.tracking.runs import this_machine_key

    assert re.fullmatch(r"[\w.+-]+", this_machine_key())


def test_ci_checks_and_builds_the_docs_after_the_tests_and_before_ruff():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()

    def at(fragment: str) -> int:
        (index,) = [i for i, line in enumerate(lines) if fragment in line and not line.startswith("#")]
        return index

    build = at("sphinx-build -E -W --keep-going -b html docs docs/_build/html")
    assert at("pytest -m slow") < at("scripts/regen_docs.py --check") < build < at("ruff check .")
    tox = (ROOT / "tox.ini").read_text()
    docs_env = tox.split("[testenv:docs]", 1)[1].split("\n[", 1)[0]
    assert "extras = docs" in docs_env and "sphinx-build -E -W --keep-going" in docs_env
