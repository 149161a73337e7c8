"""The nightly job: its workflow file validates, and its script runs here end to end."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from lbfgs_impl.measure.instructions import unavailable_reason
from lbfgs_impl.tracking.runs import load_run

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed (it comes with the test extras)"
    return path


def test_workflow_shape():
    text = WORKFLOW.read_text()
    assert "schedule:" in text and "workflow_dispatch:" in text
    assert "permissions: {}" in text and "fetch-depth: 0" in text
    assert "bash scripts/nightly.sh" in text and "performance-regression" in text
    assert "asv publish" in text
    # the published site serves its scripts itself (tests/workflow/test_asv_site_browser.py opens it offline)
    assert "asv publish\n          python -m lbfgs_impl.tracking.asv_site .asv/html" in text
    # the history is a git branch, never an Actions cache (evicted after 7 days unused)
    assert "actions/cache" not in text and "RESULTS_BRANCH: benchmark-results" in text
    assert text.count("contents: write") == 2 and "persist-credentials: false" in text
    # one issue per outcome, titled by the script; a failing perf suite is not a regression
    assert "cat .nightly/issue-title.txt" in text and '[ "$RC" = 1 ] && label=performance-regression' in text
    # the asv site is published with GitHub Pages
    assert "actions/deploy-pages@" in text and "pages: write" in text and "asv-results .asv/results" in text
    assert "${{ github.event" not in text
    for line in text.splitlines():
        if "uses:" in line:
            ref = line.split("@", 1)[1].split()[0]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), line


# ------------------------------------------------------------------ four nights, end to end

# logistic n=100: the injected extra value-and-gradient adds ~21% to optax_loop's count there; at
# rosenbrock n=100 it adds only 2.2-2.4% (the loop's host work dominates), within reach of the 2-5%
# limit, so that case made this test depend on the baseline's spread (a CI run failed on it).
SELECTED = "test_steady[logistic-100-optax_loop]"
OTHER_MODEL = {"brand_raw": "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "count": 2, "arch": "X86_64"}
REASON = unavailable_reason()


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _scratch_repo(root: Path) -> Path:
    """The project as committed code in a clean scratch repository (the nightly records its commit)."""
    repo = root / "repo"
    repo.mkdir()
    for item in ("lbfgs_impl", "perf", "scripts", "pyproject.toml", "README.md"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / item)
    (repo / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "baseline")
    return repo


def _night(repo: Path, out: Path, **extra: str) -> dict:
    env = dict(os.environ, RESULTS_REMOTE=str(out.parent / "results.git"))
    env["PATH"] = os.pathsep.join([str(BIN), env["PATH"]])
    env["PYTHONPATH"] = os.pathsep.join([str(repo), str(ROOT / "tests" / "plugins")])
    # The nightly's default path (instruction counts on), on one steady benchmark of the quick grid.
    env.update(NIGHTLY_DIR=str(out), PERF_SIZE="quick")
    # a -k expression with spaces, quoted as a user would: PERF_ARGS is split like a shell splits it
    env.update(PERF_ARGS=f'-k "{SELECTED} or no_such_name" -p perf_slowdown --perf-instructions-repeats 3')
    env.pop("INSTRUCTIONS", None)
    env.update(extra)
    proc = subprocess.run(
        ["bash", "scripts/nightly.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=1500
    )
    report, current, title = out / "report.md", out / "current.json", out / "issue-title.txt"
    return {
        "rc": proc.returncode,
        "stdout": proc.stdout,
        "log": proc.stdout[-3000:] + proc.stderr[-3000:],
        "report": report.read_text() if report.exists() else "",
        "title": title.read_text().strip() if title.exists() else "",
        "stored": _stored(out.parent / "results.git"),
        "current": json.loads(current.read_text()) if current.exists() else None,
    }


def _stored(bare: Path) -> dict[str, dict]:
    """The results store's nights by path (``machine-id/NNNN_*.json``)."""
    ls = ["git", "-C", str(bare), "ls-tree", "-r", "--name-only", "benchmark-results"]
    names = subprocess.run(ls, capture_output=True, text=True).stdout.split()
    show = ["git", "-C", str(bare), "show"]
    return {
        n: json.loads(subprocess.run([*show, f"benchmark-results:{n}"], capture_output=True).stdout)
        for n in names
    }


def _restore_other_model(bare: Path, work: Path) -> None:
    """Edit every stored night to come from another CPU model (one commit on the store's branch)."""
    _git(work.parent, "clone", "-q", "--branch", "benchmark-results", str(bare), str(work))
    for path in work.rglob("0*.json"):
        doc = json.loads(path.read_text())
        doc["machine_info"]["cpu"].update(OTHER_MODEL)
        path.write_text(json.dumps(doc))
    _git(work, "commit", "-qam", "nights from another CPU model")
    _git(work, "push", "-q", "origin", "HEAD:refs/heads/benchmark-results")


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> dict[str, dict]:
    """Four nights of scripts/nightly.sh, run once for the tests below.

    seed: the first night (becomes the baseline); noise: the same commit, libraries and machine,
    with the benchmarked solver slowed 4x by a test plugin (nothing the gate can see changed);
    unseen: the stored baselines edited to come from another CPU model; changed: a committed
    extra value-and-gradient per optax iteration (scripts/study/extra_gradient.py).
    """
    if REASON is not None:
        pytest.skip(f"the nightly's default path counts instructions: {REASON}")
    root = tmp_path_factory.mktemp("nightly")
    repo, out = _scratch_repo(root), root / "out"
    subprocess.run(["git", "init", "-q", "--bare", str(root / "results.git")], check=True)
    result = {"seed": _night(repo, out)}
    result["key"] = load_run(out / "current.json").machine_key()
    result["noise"] = _night(repo, out, LBFGS_BENCH_SLOWDOWN="optax_loop:4", CONFIRM="0")
    _restore_other_model(root / "results.git", root / "edit")
    result["edited"] = _stored(root / "results.git")
    result["unseen"] = _night(repo, out)
    sys.path.insert(0, str(ROOT / "scripts" / "study"))
    import extra_gradient

    extra_gradient.apply(repo)
    _git(repo, "commit", "-qam", "one extra value_and_grad per optax iteration")
    result["changed"] = _night(repo, out, CONFIRM="0")
    return result


@pytest.mark.slow
def test_first_night_has_no_baseline_loudly_and_seeds_the_store(nights):
    seed = nights["seed"]
    assert seed["rc"] == 2, seed["log"]  # never a green first night
    assert seed["title"] == "Nightly benchmarks: no baseline (this night seeds the history)"
    ((path, stored),) = seed["stored"].items()
    assert path.split("/")[1].startswith("0001_") and stored["lbfgs_bench_gate"]["baseline"] is True
    (bench,) = seed["current"]["benchmarks"]
    info = bench["extra_info"]
    assert bench["name"] == SELECTED and len(bench["stats"]["data"]) >= 10
    # `pytest perf --perf-instructions` on a real callgrind dump: the count, the total, the pool's share
    assert info["instructions"] > 1e6 and len(info["instructions_samples"]) == 3
    assert info["instructions_total"] > info["instructions"]
    assert 0 < info["instructions_thread_pool_share"] < 1
    # the compared count leaves out the thread pool's share and glibc's allocator internals
    allocator = statistics.median(info["instructions_allocator_samples"])
    assert info["instructions_total"] * (
        1 - info["instructions_thread_pool_share"]
    ) - allocator == pytest.approx(info["instructions"], rel=0.02)
    meta = info["instructions_meta"]
    assert meta["valgrind"].startswith("valgrind-") and meta["arch"] and "glibc" in meta["os_image"]
    assert "| instructions | every count present (1); the run checked against itself" in seed["report"]


@pytest.mark.slow
def test_an_unchanged_night_slowed_by_its_machine_does_not_alert(nights):
    noise = nights["noise"]
    assert noise["rc"] == 0, noise["log"]
    section = noise["report"].split("## Noise: nothing changed between the runs (not alerted)")[1]
    assert f"{SELECTED}` | time |" in section and "nothing changed: both runs are of commit" in section
    assert "**No regressions.**" in noise["report"]


@pytest.mark.slow
def test_a_night_on_an_unseen_cpu_model_compares_counts_not_time(nights):
    unseen = nights["unseen"]
    assert unseen["rc"] == 0, unseen["log"]
    assert "| wall time | not compared: no wall-time baseline for this machine" in unseen["report"]
    assert "| instructions | compared for 1 of 1 benchmark(s)" in unseen["report"]
    assert len(unseen["stored"]) == 3
    earlier = {k: v for k, v in unseen["stored"].items() if k in nights["edited"]}
    assert earlier == nights["edited"]  # every night kept, the earlier ones untouched


@pytest.mark.slow
def test_a_real_change_alerts_on_instructions_and_is_no_baseline(nights):
    changed = nights["changed"]
    assert changed["rc"] == 1, changed["log"]
    assert changed["title"] == "Nightly benchmarks: performance regression"
    regressions = changed["report"].split("## Regressions")[1].split("## Improvements")[0]
    assert f"{SELECTED}` | instructions" in regressions
    newest = changed["stored"][max(changed["stored"])]
    assert newest["lbfgs_bench_gate"] == {
        "exit": 1,
        "baseline": False,
        "outcome": changed["title"],
        "seed": False,
    }


def test_nightly_refuses_an_unwritable_directory_before_running_anything():
    target = "/proc/lbfgs-bench-nightly"
    env = dict(
        os.environ, NIGHTLY_DIR=target, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", RESULTS_REMOTE="."
    )
    proc = subprocess.run(
        ["bash", "scripts/nightly.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"nightly: cannot write to NIGHTLY_DIR={target}; nothing was run"
    assert proc.stdout == ""
