"""The pull-request check: its workflow validates, and its script compares two commits of this repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbfgs_impl.measure.instructions import unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "pr.yml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed (it comes with the test extras)"
    return path


def test_pr_workflow_matches_the_schema_and_passes_zizmor():
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)]
    for cmd in (schema, [tool("zizmor"), "--offline", str(WORKFLOW)]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pr_workflow_is_read_only_for_forks():
    text = WORKFLOW.read_text()
    triggers = text.split("\non:\n", 1)[1].split("\n\n", 1)[0]
    assert triggers == "  pull_request:"  # never pull_request_target: forks get a read-only token, no secrets
    assert "permissions: {}" in text and "secrets." not in text
    assert "persist-credentials: false" in text
    assert "head.repo.full_name == github.repository" in text  # the comment only where the token may write
    assert "GITHUB_STEP_SUMMARY" in text and "scripts/pr_instructions.py" in text
    for line in text.splitlines():
        if "uses:" in line:
            ref = line.split("@", 1)[1].split()[0]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), line


@pytest.mark.slow  # two commits counted under valgrind: minutes
def test_the_script_compares_two_commits_of_this_repository(tmp_path):
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"instruction counts unavailable: {reason}")
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD~1"], capture_output=True, text=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if base.returncode or head.returncode:
        pytest.skip("not a git checkout with two commits")
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ["PATH"]]))
    cmd = [sys.executable, str(ROOT / "scripts" / "pr_instructions.py"), "--base", base.stdout.strip()]
    cmd += ["--head", head.stdout.strip(), "--out", str(tmp_path / "pr"), "--summary", str(summary)]
    cmd += [
        "--select",
        "test_steady and rosenbrock and scipy",
        "--perf-args",
        "--perf-instructions-repeats 2",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    text = summary.read_text()
    assert text.startswith("earlier step\n## Instruction counts: head ")  # appended, as the job summary is
    assert f"head {head.stdout[:10]} against base {base.stdout[:10]}" in text
    assert "| instructions | compared for 1 of 1 benchmark(s)" in text
    assert "## Machines and versions" in text
    # the one benchmark compared is the one selected, on both commits (the summary names a benchmark
    # only where it found something)
    for side in ("base", "head"):
        names = [b["name"] for b in json.loads((tmp_path / "pr" / f"{side}.json").read_text())["benchmarks"]]
        assert names == ["test_steady[rosenbrock-100-scipy]"], (side, names)
    assert (tmp_path / "pr" / "summary.md").read_text() == text.removeprefix("earlier step\n")
