import json
import subprocess
import sys

import pytest

from lbfgs_impl.cli import main

REQUIRED_RESULT_KEYS = {
    "solver",
    "problem",
    "n",
    "first_call_s",
    "steady_s",
    "n_iter",
    "n_fev",
    "final_loss",
    "grad_inf_norm",
    "converged",
}


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    """One small `lbfgs-bench compare` run shared by the checks below."""
    path = tmp_path_factory.mktemp("cli") / "out" / "compare.json"
    argv = ["compare", "--problem", "quadratic", "--n", "20", "--repeats", "2"]
    argv += ["--first-call-repeats", "1", "--json", str(path)]
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", *argv], capture_output=True, text=True, timeout=600
    )
    return proc, path


def test_compare_exits_zero_and_prints_the_table(compare_run):
    proc, _ = compare_run
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for column in (
        "solver",
        "first call (s)",
        "steady (s)",
        "speedup vs scipy",
        "iterations",
        "f+g evals",
        "final loss",
        "grad inf-norm",
        "converged",
    ):
        assert column in out
    lines = out.splitlines()
    assert lines[0].startswith("jax ") and "optax" in lines[0] and "scipy" in lines[0] and "numpy" in lines[0]
    assert "CPU:" in lines[1] and "pinned to CPU" in lines[1]
    rows = [line for line in lines if line.split(" | ")[0].strip() in ("scipy", "optax_loop", "optax_while")]
    assert len(rows) == 3
    assert all(row.rstrip().endswith("yes") for row in rows)
    assert rows[0].split(" | ")[3].strip() == "1.00x"  # scipy against itself


def test_compare_reports_progress_on_stderr(compare_run):
    proc, _ = compare_run
    assert "first-call sample" in proc.stderr and "steady state" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_compare_json_schema(compare_run):
    _, path = compare_run
    doc = json.loads(path.read_text())
    assert set(doc) == {"meta", "results"}
    meta = doc["meta"]
    assert set(meta["versions"]) == {"jax", "jaxlib", "optax", "scipy", "numpy"}
    assert all(meta["versions"].values())
    assert meta["pinning"]["pinned"] is True and len(meta["pinning"]["cpus"]) == 1
    assert meta["pinning"]["after_jax_init"] is False  # pinned before XLA made its thread pool
    assert meta["cpu"] and meta["jax_enable_x64"] is True
    assert "OPENBLAS_NUM_THREADS" in meta["thread_env"]
    assert [r["solver"] for r in doc["results"]] == ["scipy", "optax_loop", "optax_while"]
    for r in doc["results"]:
        assert set(r) >= REQUIRED_RESULT_KEYS
        assert r["problem"] == "quadratic" and r["n"] == 20
        assert r["converged"] is True and r["grad_inf_norm"] <= 1e-5
        assert r["first_call_s"] > r["steady_s"] > 0
        assert r["n_fev"] >= r["n_iter"] > 0
        assert len(r["steady_samples_s"]) == 2 and len(r["first_call_samples"]) == 1
        assert r["first_call_samples"][0]["n_compilations"] >= 1
    assert not list(path.parent.glob(".*.tmp")), "temporary file left behind"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["compare", "--solvers", "scipy,lbfgs"],
            "unknown solver(s) 'lbfgs'; valid solvers: scipy, optax_loop, optax_while, jaxopt_lbfgs, "
            "optimistix_lbfgs, optimistix_bfgs, jax_scipy_bfgs",
        ),
        (
            ["compare", "--problem", "rosen"],
            "unknown problem 'rosen'; valid problems: rosenbrock, quadratic, logistic, mgh_rosenbrock",
        ),
        (["compare", "--n", "1"], "problem dimension n must be an integer >= 2, got 1"),
        (["compare", "--repeats", "0"], "expected an integer >= 1"),
        (["compare", "--gtol", "-1"], "gtol must be a finite number > 0"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("lbfgs-bench: error: ")


def test_unknown_solver_in_a_subprocess_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "compare", "--solvers", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "lbfgs-bench: error: unknown solver(s) 'nope'; valid solvers: "
        "scipy, optax_loop, optax_while, jaxopt_lbfgs, optimistix_lbfgs, optimistix_bfgs, jax_scipy_bfgs"
    )
    assert proc.stdout == ""
