"""A ``module:attr`` problem in every command and suite that takes one; a start given as ``module:attr``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lbfgs_impl
from lbfgs_impl.cli import main

REPO = Path(__file__).resolve().parents[2]
MODULE = "lbfgs_bench_user_everywhere"
QUADRATIC = "lbfgs_bench_user_quadratic"
SOURCE = textwrap.dedent(
    """
    import jax.numpy as jnp
    import numpy as np

    def f(x):  # log: not finite at zeros(n), so only a given start works
        return jnp.sum(jnp.log(x) ** 2 + 0.1 * (x - 2.0) ** 2)

    start = np.full(6, 3.0)
    start_2d = np.ones((2, 3))
    start_complex = np.ones(6) + 0j
    start_nan = np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0])
    """
)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("everywhere")
    (root / f"{MODULE}.py").write_text(SOURCE)
    (root / f"{QUADRATIC}.py").write_text(
        "import jax.numpy as jnp\n\n\ndef f(x):\n"
        "    return jnp.sum((x - 1.0) ** 2) + jnp.sum(x[1:] * x[:-1]) / 4\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        yield root


def _env(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(root)]), **extra}


def test_a_start_given_as_module_attr_is_used_checked_and_recorded(user_dir):
    result = lbfgs_impl.compare(
        f"{MODULE}:f", x0=f"{MODULE}:start", solvers=["scipy", "optax_while"], repeats=1, first_call_repeats=1
    )
    assert [r["converged"] for r in result.rows] == [True, True]
    doc = json.loads(result.to_json())
    assert doc["meta"]["problem"]["n"] == 6 and doc["meta"]["problem"]["params"] == {"x0": f"{MODULE}:start"}
    losses = [r["final_loss"] for r in result.rows]
    assert losses[0] == pytest.approx(losses[1], rel=1e-8, abs=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x0", f"{MODULE}:start_2d"], "x0 must be a 1-D array of real numbers, got float64[2, 3]"),
        (["--x0", f"{MODULE}:start_complex"], "x0 must be a 1-D array of real numbers, got complex128[6]"),
        (["--x0", f"{MODULE}:start_nan"], "x0 has non-finite entries"),
        (["--x0", f"{MODULE}:nowhere"], f"module '{MODULE}' has no attribute 'nowhere'"),
        (["--x0", f"{MODULE}:start", "--n", "5"], "its x0 has shape [6], which does not match --n 5"),
        (["--x0", f"{MODULE}:start", "--instructions"], "--x0 cannot be combined with --instructions"),
        ([], "a function needs a dimension (--n) or an x0 attribute"),
        (["--n", "4"], "the objective is inf at x0"),
    ],
)
def test_a_bad_start_is_refused_in_one_line(user_dir, tmp_path, capsys, args, message):
    out = tmp_path / "out" / "r.json"
    argv = ["compare", "--no-pin", "--problem", f"{MODULE}:f", "--json", str(out), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--problem", f"{MODULE}:missing"], "has no attribute 'missing'"),
        (["--problem", f"{MODULE}:f", "--n", "4"], "the objective is inf at x0"),
        (["--n", "4"], "--n sizes the problem of --problem"),
    ],
)
def test_report_refuses_a_bad_problem_in_one_line_before_writing(user_dir, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["report", "--plan", "tiny", "--no-pin", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_explain_reads_the_seed_variants_static_figures_on_a_user_problem(user_dir, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "explain", "--problem", f"{QUADRATIC}:f", "--n", "5",
         "--solvers", "scipy,optax_loop,optax_while", str(out)],
        capture_output=True, text=True, timeout=600, env=_env(user_dir, PATH=str(tmp_path / "no-valgrind")),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "explain.json").read_text())
    kinds = {name: part["kind"] for name, part in doc["static"]["solvers"].items()}
    assert kinds == {"scipy": "callback", "optax_loop": "jitted_step", "optax_while": "one_executable"}


def test_the_perf_suite_collects_a_user_problem_at_its_size(user_dir, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "perf", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--perf-problem", f"{QUADRATIC}:f", "--perf-n", "7", "--perf-solvers", "scipy"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=_env(user_dir),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids and all(f"{QUADRATIC}:f-7" in line for line in ids if "[" in line)


def test_the_asv_grid_builds_a_user_problem_from_its_case_name(user_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import make_case

    solver, problem, _ = make_case("optax_while", f"{QUADRATIC}:f-6")
    assert solver.name == "optax_while" and problem.n == 6 and problem.name == f"{QUADRATIC}:f"
    with pytest.raises(NotImplementedError, match="is inf at x0"):  # asv's skip, with the reason
        make_case("scipy", f"{MODULE}:f-4")
