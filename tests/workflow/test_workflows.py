"""Every GitHub workflow file: it validates against the schema, zizmor finds nothing offline, its
actions are pinned by commit hash, checkouts keep no credentials and permissions are per job; and
the test workflow runs what the project claims to test."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted(
    [*(ROOT / ".github" / "workflows").glob("*.yml"), *(ROOT / ".github" / "workflows").glob("*.yaml")]
)
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed (it comes with the test extras)"
    return path


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    """``on:`` (YAML 1.1 reads the bare key ``on`` as True)."""
    return workflow.get("on", workflow.get(True))


def test_every_workflow_is_found():
    assert {p.name for p in WORKFLOWS} >= {"nightly.yml", "tests.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path: Path):
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_zizmor_offline(path: Path):
    proc = subprocess.run([tool("zizmor"), "--offline", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_pins_and_permissions(path: Path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "no permission at the top: each job asks for its own"
    steps = 0
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}: no permissions of its own"
        assert job.get("timeout-minutes"), f"{name}: no timeout"
        for step in job["steps"]:
            steps += 1
            uses = step.get("uses")
            if uses is None:
                continue
            ref = uses.split("@", 1)[1]
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}: {uses} is not pinned by commit hash"
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}: checkout keeps credentials"
    assert steps > 0
    # event data (a branch name, a title) reaches a shell only through env, never expanded in a script
    for name, job in workflow["jobs"].items():
        assert "${{ github.event" not in _runs(job), f"{name}: event data expanded inside a run script"


# ------------------------------------------------------------------ the test workflow

TESTS = ROOT / ".github" / "workflows" / "tests.yml"


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_tests_run_on_push_and_pull_request():
    on = triggers(load(TESTS))
    assert "push" in on and "pull_request" in on


def test_tiny_tier_matrix_covers_every_python_and_both_ends():
    workflow = load(TESTS)
    tiny = workflow["jobs"]["tiny"]
    matrix = tiny["strategy"]["matrix"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.fullmatch(r">=3\.(\d+)", requires)
    assert low, requires
    assert matrix["python"] == [f"3.{m}" for m in range(int(low.group(1)), 14)]
    assert matrix["deps"] == ["lowest", "newest"]
    runs = _runs(tiny)
    assert "tox -e lowest" in runs and "tox -e py" in runs
    tox = (ROOT / "tox.ini").read_text()
    for env in ("lowest", "slow", "docs"):
        assert "tox -e " + env in TESTS.read_text()
    for env in ("lowest", "slow"):
        assert f"[testenv:{env}]" in tox


def test_slow_tier_runs_once_with_valgrind_and_lint_pins_ruff():
    jobs = load(TESTS)["jobs"]
    assert "strategy" not in jobs["slow"]
    assert "tox -e slow" in _runs(jobs["slow"]) and "valgrind" in _runs(jobs["slow"])
    lint = _runs(jobs["lint"])
    assert re.search(r"pip install ruff==\d+\.\d+\.\d+\n", lint)
    assert "ruff check ." in lint and "ruff format --check ." in lint
    assert "tox -e docs" in _runs(jobs["docs"])
