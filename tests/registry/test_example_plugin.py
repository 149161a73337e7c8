"""The example plugin package, installed with pip: in ``list``, in ``compare`` beside SciPy, in
``pytest perf`` and in an asv run, each with its distribution's name and version."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

DIST = "lbfgs-bench-example"


@pytest.fixture
def run(example_python, example_env):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(example_python), *args], capture_output=True, text=True, env=example_env, cwd=REPO
        )

    return run


@pytest.mark.slow  # installs the example into an environment of its own (~20 s) and runs it
def test_list_shows_the_plugin_with_its_distribution(run):
    proc = run("-m", "lbfgs_impl", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    solvers = {s["name"]: s for s in listing["solvers"]}
    problems = {p["name"]: p for p in listing["problems"]}
    gd, quad = solvers["example_gd"], problems["example_quadratic"]
    assert gd["available"] and gd["origin"]["kind"] == "entry point"
    assert (gd["origin"]["distribution"], gd["origin"]["version"]) == (DIST, "0.1.0")
    assert gd["description"] == "Gradient descent with Armijo backtracking, one jitted while loop."
    assert quad["origin"]["distribution"] == DIST and quad["reason"] is None
    assert solvers["scipy"]["origin"]["kind"] == "built-in"
    from lbfgs_impl.commands.list import format_listing

    text = format_listing(listing["solvers"], listing["problems"])
    assert re.search(r"example_gd\s+entry point of lbfgs-bench-example 0\.1\.0", text), text


@pytest.mark.slow
def test_compare_runs_the_plugin_beside_scipy(run, tmp_path):
    out = tmp_path / "compare.json"
    proc = run(
        "-m",
        "lbfgs_impl",
        "compare",
        "--problem",
        "example_quadratic",
        "--n",
        "20",
        "--solvers",
        "scipy,example_gd",
        "--repeats",
        "2",
        "--first-call-repeats",
        "1",
        "--no-pin",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {r["solver"]: r for r in doc["results"]}
    assert set(rows) == {"scipy", "example_gd"}
    for row in rows.values():
        assert row["converged"] and row["grad_inf_norm"] <= 1e-5 and row["final_loss"] < 1e-9
        assert row["n_fev"] > row["n_iter"] > 0 and row["steady_s"] > 0
    assert rows["example_gd"]["solver_origin"]["distribution"] == DIST
    assert rows["scipy"]["solver_origin"]["distribution"] == "lbfgs-bench"
    assert doc["meta"]["problem"]["origin"]["distribution"] == DIST
    assert (
        "example_gd: plugin lbfgs_bench_example:gradient_descent (entry point, lbfgs-bench-example 0.1.0)"
        in (proc.stdout)
    )


@pytest.mark.slow  # a pytest run of its own in the plugin's environment (~30 s)
def test_perf_runs_the_plugin_when_selected(run, tmp_path):
    out = tmp_path / "perf.json"
    proc = run(
        "-m",
        "pytest",
        "perf",
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        "test_steady",
        "--perf-solvers",
        "example_gd",
        "--perf-problem",
        "example_quadratic",
        "--perf-n",
        "12",
        "--perf-cpu",
        "none",
        "--benchmark-min-rounds=2",
        "--benchmark-max-time=0.05",
        f"--benchmark-json={out}",
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert bench["params"]["solver_name"] == "example_gd"
    info = bench["extra_info"]
    assert info["converged"] and info["solver_origin"]["distribution"] == DIST
    assert info["problem_origin"]["distribution"] == DIST and info["solved"] is True


@pytest.mark.slow
def test_asv_runs_the_plugin_when_selected(example_python, example_env, tmp_path):
    """asv takes no benchmark arguments: the plugin is selected through LBFGS_BENCH_ASV_SOLVERS/CASES."""
    env = dict(
        example_env,
        HOME=str(tmp_path),
        LBFGS_BENCH_ASV_SOLVERS="example_gd",
        LBFGS_BENCH_ASV_CASES="example_quadratic-12",
    )
    asv = [str(example_python), "-m", "asv"]
    proc = subprocess.run([*asv, "machine", "--yes"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [
            *asv,
            "run",
            "-E",
            f"existing:{example_python}",
            "--quick",
            "--show-stderr",
            "-b",
            "lbfgs.SteadyState|lbfgs.Quality.track_iterations",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    ran = re.findall(r"··· (lbfgs\.\S+)\s+(\w+)", out)
    assert {name for name, _ in ran} == {"lbfgs.SteadyState.time_solve", "lbfgs.Quality.track_iterations"}, (
        out[-3000:]
    )
    assert all(status == "ok" for _, status in ran), out[-3000:]
    assert "example_gd" in out and "example_quadratic-12" in out and "scipy" not in out.split("··· lbfgs")[-1]
