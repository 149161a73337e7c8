"""Bad plugins: refused in one line, exit 2, nothing written; a failing plugin solver: its row's outcome."""

from __future__ import annotations

import textwrap

import pytest

from lbfgs_impl.cli import main

USER_MODULE = "lbfgs_bench_user_bad"

SOURCE = textwrap.dedent(
    """
    import jax.numpy as jnp
    import numpy as np

    from lbfgs_impl.solvers import SolveState, host_solver

    def good(x):
        return jnp.sum((x - 1.0) ** 2)

    def vector(x):
        return (x - 1.0) ** 2

    def integer(x):
        return jnp.sum(x > 0)

    def nan_at_start(x):
        return jnp.sum(jnp.sqrt(x - 1.0))

    def short_start(x):
        return jnp.sum(x**2)

    short_start.x0 = np.zeros(3)

    not_callable = 3

    def raises(objective, x0, data, config):
        raise RuntimeError("the plugin broke\\nhalfway through")

    def wrong_shape(objective, x0, data, config):
        return SolveState(x0[:-1], jnp.asarray(0))

    def liar(objective, x0, data, config):
        return SolveState(x0, jnp.asarray(1), 0)  # "done": code 0 after one iteration, x0 untouched

    def single(objective, x0, data, config):
        return SolveState(x0.astype(jnp.float32), jnp.asarray(1))

    @host_solver("jit_inside", "compiles a new function on every run")
    def jit_inside(value_and_grad, x0, config):
        import jax

        shifted = jax.jit(lambda v: v + 0.0)(x0)  # a fresh closure: a compilation in every run
        f, g = value_and_grad(np.asarray(shifted))
        return SolveState(x0 - 0.5 * g, 1)

    @host_solver("host_gd", "gradient descent on the host, fixed step")
    def host_gd(value_and_grad, x0, config):
        x = x0
        for k in range(config.maxiter):
            f, g = value_and_grad(x)
            if np.max(np.abs(g)) <= config.gtol:
                break
            x = x - 0.25 * g
        return SolveState(x, k)
    """
)


@pytest.fixture(scope="module")
def user_module(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    (root / f"{USER_MODULE}.py").write_text(SOURCE)
    (root / "lbfgs_bench_user_broken.py").write_text(
        "import jax\nraise ImportError('first line\\nlast line')\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        yield USER_MODULE


def _refused(capsys, tmp_path, *args: str) -> str:
    out_json = tmp_path / "out" / "result.json"
    code = main(
        ["compare", "--no-pin", "--repeats", "1", "--first-call-repeats", "1", "--json", str(out_json), *args]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert not out_json.exists()
    return err


@pytest.mark.parametrize(
    ("attr", "n", "message"),
    [
        ("vector", "5", "returns shape [5], expected a scalar"),
        ("integer", "5", "returns int64, expected a float64 scalar"),
        ("nan_at_start", "5", "is nan at x0"),
        ("short_start", "5", "x0 has shape [3], which does not match --n 5"),
        ("not_callable", "5", "int is not callable"),
        ("missing", "5", "has no attribute 'missing'"),
    ],
)
def test_bad_problem_is_refused_in_one_line(user_module, capsys, tmp_path, attr, n, message):
    err = _refused(capsys, tmp_path, "--problem", f"{user_module}:{attr}", "--n", n)
    assert message in err and f"{user_module}:{attr}" in err


def test_a_module_that_does_not_import_says_its_errors_last_line(user_module, capsys, tmp_path):
    err = _refused(capsys, tmp_path, "--problem", "lbfgs_bench_user_broken:f", "--n", "5")
    assert "does not import: ImportError: last line" in err
    err = _refused(capsys, tmp_path, "--solvers", "scipy,lbfgs_bench_user_broken:solve")
    assert "does not import: ImportError: last line" in err


def test_a_solver_attribute_that_is_not_callable_is_refused(user_module, capsys, tmp_path):
    err = _refused(capsys, tmp_path, "--solvers", f"{user_module}:not_callable")
    assert "int is not callable" in err


@pytest.fixture(scope="module")
def failing_rows(user_module):
    import lbfgs_impl

    solvers = ["scipy", f"{user_module}:raises", f"{user_module}:wrong_shape", f"{user_module}:host_gd"]
    solvers += [f"{user_module}:liar", f"{user_module}:single", f"{user_module}:jit_inside"]
    return lbfgs_impl.compare(f"{user_module}:good", n=6, solvers=solvers, repeats=2, first_call_repeats=1)


def test_a_plugin_that_raises_or_returns_a_wrong_state_is_its_rows_outcome(failing_rows, user_module):
    rows = {r["solver"].split(":")[-1]: r for r in failing_rows.rows}
    assert rows["raises"]["failed"] and not rows["raises"]["converged"]
    assert "RuntimeError: halfway through" in rows["raises"]["status"]
    assert (
        rows["wrong_shape"]["failed"]
        and "returned x of float64[5], expected float64[6]" in rows["wrong_shape"]["status"]
    )
    for name in ("raises", "wrong_shape"):
        assert rows[name]["steady_s"] is None and rows[name]["first_call_s"] is None
    assert rows["scipy"]["converged"] and rows["scipy"]["steady_s"] > 0  # the other rows complete
    table = failing_rows.to_markdown()
    assert "RuntimeError: halfway through" in table and table.count("\n") == len(failing_rows.rows) + 1


def test_host_driven_plugin_is_judged_and_counted_by_the_suite(failing_rows, user_module):
    row = next(r for r in failing_rows.rows if r["solver"].endswith(":host_gd"))
    assert row["converged"] and row["grad_inf_norm"] <= 1e-5
    # fixed step 0.25 on sum (x-1)^2: the error halves each step; one evaluation per step, plus the last
    assert row["n_fev"] == row["n_iter"] + 1
    assert (
        row["solver_origin"]["kind"] == "module"
        and row["solver_origin"]["target"] == f"{user_module}:host_gd"
    )


def test_a_solver_that_says_it_is_done_is_judged_by_the_gradient_and_gets_no_speedup(failing_rows):
    rows = {r["solver"].split(":")[-1]: r for r in failing_rows.rows}
    liar = rows["liar"]
    assert not liar["failed"] and not liar["converged"] and liar["grad_inf_norm"] == pytest.approx(2.0)
    assert liar["n_fev"] == 0 and liar["speedup_vs_scipy"] is None  # it did less work than SciPy
    assert rows["host_gd"]["speedup_vs_scipy"] is not None  # both converged: a speedup
    single = rows["single"]
    assert single["failed"] and "returned x of float32[6], expected float64[6]" in single["status"]


def test_a_plugin_that_compiles_in_its_steady_runs_is_its_rows_outcome(failing_rows):
    row = next(r for r in failing_rows.rows if r["solver"].endswith(":jit_inside"))
    assert row["failed"] and row["steady_s"] is None
    assert row["status"].startswith("failed: compiles inside its timed solve (CompilationInTimedRegion: ")
