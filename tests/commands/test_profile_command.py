"""`lbfgs-bench profile`: every file written, the success rule applied, failures recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lbfgs_impl.commands.profile.runner import QUICK_PROBLEMS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "out"
    argv = ["profile", "--quick", "--solvers", "scipy,optax_while,jax_scipy_bfgs", "--repeats", "1", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", *argv], capture_output=True, text=True, timeout=1200
    )
    return proc, out


def test_quick_profile_writes_every_file(quick_profile):
    proc, out = quick_profile
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "profile.md",
        "profile_time.png",
        "profile_evaluations.png",
        "profile_evaluations_by_tolerance.png",
    }
    for png in ("profile_time.png", "profile_evaluations.png", "profile_evaluations_by_tolerance.png"):
        data = (out / png).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000
    text = (out / "profile.md").read_text()
    for png in ("profile_time.png", "profile_evaluations.png", "profile_evaluations_by_tolerance.png"):
        assert f"![{png}]({png})" in text
    assert "wrote " in proc.stdout and "profile.md" in proc.stdout
    assert "profile:" in proc.stderr  # the progress bar


def test_quick_profile_results_follow_the_suite_rule(quick_profile):
    _, out = quick_profile
    doc = json.loads((out / "results.json").read_text())
    assert doc["problems"] == list(QUICK_PROBLEMS)
    assert doc["solvers"] == ["scipy", "optax_while", "jax_scipy_bfgs"]
    assert doc["meta"]["versions"]["jax"] and doc["meta"]["pinning"]["pinned"] is True
    runs = {(r["problem"], r["solver"]): r for r in doc["runs"]}
    assert len(runs) == 3 * len(QUICK_PROBLEMS)
    for r in runs.values():
        if r["solved"]:
            assert r["value"] - r["f_star"] <= 1e-5 * (r["f0"] - r["f_star"])
            assert r["value"] - r["f_star"] <= 1e-5 * max(1.0, abs(r["f_star"]))
            assert r["fev_to_success"]["1e-05"] <= r["n_fev"] == r["traced_fev"]
            assert r["minimum_reached"] == "global minimum (MGH f*)"
            assert r["steady_s"] > 0 and r["n_fev"] >= r["n_iter"] >= 1
    # Known outcomes: L-BFGS solves the 2-D Rosenbrock; from MGH's start it ends in Freudenstein-Roth's
    # local minimum, which the suite's rule does not count as solved but names.
    assert runs["mgh_rosenbrock", "scipy"]["solved"] and runs["mgh_rosenbrock", "optax_while"]["solved"]
    fr = runs["mgh_freudenstein_roth", "scipy"]
    assert not fr["solved"] and fr["minimum_reached"] == "local minimum at (11.41, -0.8968)"
    text = (out / "profile.md").read_text()
    for solver in doc["solvers"]:
        k = sum(r["solved"] for r in doc["runs"] if r["solver"] == solver)
        assert f"| {solver} | {k}/{len(QUICK_PROBLEMS)} |" in text


def test_unknown_problem_is_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "profile", "--problems", "mgh_nope", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    expected = "lbfgs-bench: error: unknown problem(s) 'mgh_nope'; valid problems: rosenbrock"
    assert proc.stderr.startswith(expected)
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unwritable_outdir_is_refused_before_running(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "profile", "--quick", "/proc/lbfgs-profile"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("lbfgs-bench: error: cannot write /proc/lbfgs-profile/results.json")
