"""Confirmation before alerting: real A/B re-runs from git worktrees of a scratch repository."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lbfgs_impl.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "quick-run.json"
FLAGGED = "perf/test_lbfgs_perf.py::test_steady[rosenbrock-100-optax_while]"
RUN_LINE = "        return jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))\n"

pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory) -> tuple[Path, str, str]:
    """Two commits: the project as it is, then optax_while made 3x slower (test-only edit of the copy)."""
    repo = tmp_path_factory.mktemp("repo")
    for item in ("lbfgs_impl", "perf", "pyproject.toml", "README.md"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / item)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline")
    baseline = git(repo, "rev-parse", "HEAD")
    solvers = repo / "lbfgs_impl" / "solvers.py"
    text = solvers.read_text()
    assert RUN_LINE in text
    slowed = (
        "        for _ in range(2):\n"
        "            self._solve(self.problem.x0, self.problem.data).x.block_until_ready()\n"
    )
    solvers.write_text(text.replace(RUN_LINE, slowed + RUN_LINE))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "slower optax_while")
    return repo, baseline, git(repo, "rev-parse", "HEAD")


def flagged_copy(tmp_path: Path) -> str:
    doc = json.loads(DATA.read_text())
    stats = next(b for b in doc["benchmarks"] if b["fullname"] == FLAGGED)["stats"]
    for key in ("min", "max", "mean", "median", "q1", "q3", "iqr"):
        stats[key] *= 3
    stats["data"] = [x * 3 for x in stats["data"]]
    path = tmp_path / "current.json"
    path.write_text(json.dumps(copy.deepcopy(doc)))
    return str(path)


def confirm_argv(tmp_path: Path, repo: Path, baseline_rev: str, current_rev: str) -> list[str]:
    # A 50% threshold: the real slowdown is 3x, and A/B noise on a shared machine stays well below it.
    argv = ["check-regressions", str(DATA), flagged_copy(tmp_path), "--confirm", "--repo", str(repo)]
    return [*argv, "--baseline-rev", baseline_rev, "--current-rev", current_rev, "--threshold", "0.5"]


def test_a_real_slowdown_is_confirmed(tmp_path, capsys, scratch_repo):
    repo, baseline, slowed = scratch_repo
    assert main([*confirm_argv(tmp_path, repo, baseline, slowed), "--confirm-rounds", "2"]) == 1
    out = capsys.readouterr().out
    regressions = out.split("## Regressions")[1].split("## Improvements")[0]
    assert f"`{FLAGGED}` | time |" in regressions and "confirmed" in regressions
    assert "not reproduced" not in out
    assert git(repo, "worktree", "list").count("\n") == 0  # worktrees cleaned up


def test_a_flag_that_does_not_reproduce_is_not_alerted(tmp_path, capsys, scratch_repo):
    repo, baseline, _ = scratch_repo
    assert main([*confirm_argv(tmp_path, repo, baseline, baseline), "--confirm-rounds", "3"]) == 0
    out = capsys.readouterr().out
    assert "**No regressions.**" in out
    unconfirmed = out.split("## Flagged but not reproduced on re-run (not alerted)")[1]
    assert f"`{FLAGGED}`" in unconfirmed and "not reproduced" in unconfirmed


def test_confirm_with_an_unknown_revision_is_a_usage_error(tmp_path, capsys, scratch_repo):
    repo, baseline, _ = scratch_repo
    assert main(confirm_argv(tmp_path, repo, "no-such-rev", baseline)) == 2
    assert "--confirm: git rev-parse" in capsys.readouterr().err
