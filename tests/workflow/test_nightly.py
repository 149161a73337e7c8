"""The nightly job: its workflow file validates, and its script runs here end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
BIN = Path(sys.executable).parent
SLOWED = "test_steady[rosenbrock-100-optax_while]"


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed (it comes with the test extras)"
    return path


def test_workflow_matches_the_github_schema():
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_passes_zizmor_offline():
    proc = subprocess.run([tool("zizmor"), "--offline", str(WORKFLOW)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_shape():
    text = WORKFLOW.read_text()
    assert "schedule:" in text and "workflow_dispatch:" in text
    assert "permissions: {}" in text and "fetch-depth: 0" in text
    assert "bash scripts/nightly.sh" in text and "performance-regression" in text
    assert "asv publish" in text
    assert "${{ github.event" not in text
    for line in text.splitlines():
        if "uses:" in line:
            ref = line.split("@", 1)[1].split()[0]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), line


@pytest.fixture
def nightly(tmp_path):
    """Run scripts/nightly.sh on one steady benchmark (the one the tests slow down)."""

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(BIN), env["PATH"]])
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT / "tests" / "plugins"), env.get("PYTHONPATH")])
        )
        env.update(NIGHTLY_DIR=str(tmp_path), PERF_SIZE="quick", PERF_ARGS=f"-k {SLOWED} -p perf_slowdown")
        env.update(CHECK_ARGS="--threshold 0.5")  # the injected slowdown is 4x; shared-machine noise is not
        env.update(INSTRUCTIONS="0")  # the wall-time path; instruction counts have their own tests
        env.update(extra)
        return subprocess.run(
            ["bash", str(ROOT / "scripts" / "nightly.sh")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    return run


@pytest.mark.slow
def test_nightly_script_baseline_then_alert_then_quiet(nightly, tmp_path):
    first = nightly()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "this run becomes the baseline" in first.stdout
    baseline = json.loads((tmp_path / "baseline.json").read_text())
    (bench,) = baseline["benchmarks"]
    assert bench["name"] == SLOWED and len(bench["stats"]["data"]) >= 10

    # A real 4x slowdown of one variant, compared without re-runs: the alert path.
    slowed = nightly(LBFGS_BENCH_SLOWDOWN="optax_while:4", CONFIRM="0")
    assert slowed.returncode == 1, slowed.stdout[-3000:]
    report = (tmp_path / "report.md").read_text()
    regressions = report.split("## Regressions")[1].split("## Improvements")[0]
    assert f"{SLOWED}` | time |" in regressions
    assert "the baseline is kept" in slowed.stdout
    assert json.loads((tmp_path / "baseline.json").read_text()) == baseline

    # The same transient slowdown with confirmation: the A/B re-run of the committed code does
    # not reproduce it, so nothing is alerted and the run becomes the new baseline.
    quiet = nightly(LBFGS_BENCH_SLOWDOWN="optax_while:4")
    assert quiet.returncode == 0, quiet.stdout[-3000:]
    report = (tmp_path / "report.md").read_text()
    assert "**No regressions.**" in report and "not reproduced" in report


def test_nightly_refuses_an_unwritable_directory_before_running_anything():
    target = "/proc/lbfgs-bench-nightly"
    env = dict(os.environ, NIGHTLY_DIR=target, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", "scripts/nightly.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"nightly: cannot write to NIGHTLY_DIR={target}; nothing was run"
    assert proc.stdout == ""
