"""``lbfgs-bench list``, the other commands' plugin checks, and the API's problem builder (all cheap)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import lbfgs_impl.registry as registry
from lbfgs_impl.api import as_problem
from lbfgs_impl.cli import main
from lbfgs_impl.commands.list import format_listing, problem_entries, solver_entries
from lbfgs_impl.solvers import SOLVERS


def test_list_names_every_solver_and_problem_with_its_origin(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("scipy", "optax_while", "jaxopt_lbfgs", "rosenbrock", "mgh_wood"):
        assert any(line.split()[0] == name and "built-in (lbfgs-bench" in line for line in out.splitlines())


def test_list_says_which_extra_a_missing_solver_needs(monkeypatch):
    monkeypatch.setattr(SOLVERS["jaxopt_lbfgs"], "package", "no_such_package_here")
    entry = next(s for s in solver_entries() if s["name"] == "jaxopt_lbfgs")
    assert not entry["available"]
    assert entry["reason"] == "no_such_package_here is not installed (pip install 'lbfgs-bench[peers]')"
    assert "jaxopt_lbfgs" in format_listing(solver_entries(), problem_entries())


def test_list_shows_a_plugin_that_does_not_load_and_a_conflict(monkeypatch):
    regs = (
        registry.Registration("broken", "no_such_module_here:solve", "pkg-a", "1.0"),
        registry.Registration("twin", "pkg_a:make", "pkg-a", "1.0"),
        registry.Registration("twin", "pkg_b:make", "pkg-b", "2.0"),
    )
    monkeypatch.setattr(registry, "registrations", lambda group: regs)
    solvers = {s["name"]: s for s in solver_entries()}
    assert "No module named 'no_such_module_here'" in solvers["broken"]["reason"]
    assert solvers["broken"]["origin"]["distribution"] == "pkg-a"
    assert "pkg-a 1.0" in solvers["twin"]["reason"] and "pkg-b 2.0" in solvers["twin"]["reason"]
    problems = {p["name"]: p for p in problem_entries()}
    assert "pkg-b 2.0" in problems["twin"]["reason"]
    text = format_listing(list(solvers.values()), list(problems.values()))
    assert "broken" in text and "unavailable: solver 'broken'" in text


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "lbfgs_bench_user_cmds.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def vector(x):
                return x * 2.0

            vector.x0 = np.ones(5)  # profile has no --n: the start gives the dimension
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "lbfgs_bench_user_cmds"


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "--problems", "{m}:vector", "{out}"],
        ["explain", "--problem", "{m}:vector", "--n", "5", "{out}"],
    ],
)
def test_profile_and_explain_refuse_a_bad_plugin_problem_in_one_line(user_module, tmp_path, capsys, argv):
    out = tmp_path / "out"
    assert main([a.format(m=user_module, out=out) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "returns shape [5], expected a scalar" in err
    assert not out.exists() or not any(out.iterdir())


def test_as_problem_takes_a_function_and_a_start():
    problem = as_problem(lambda x: (x**2).sum(), x0=[1.0, 2.0, 3.0])
    assert problem.n == 3 and np.array_equal(np.asarray(problem.x0), [1.0, 2.0, 3.0])
    assert problem.f_star is None
    with pytest.raises(registry.PluginError, match=r"x0 has shape \[3\], which does not match --n 4"):
        as_problem(lambda x: (x**2).sum(), x0=[1.0, 2.0, 3.0], n=4)
    with pytest.raises(registry.PluginError, match="needs a dimension"):
        as_problem(lambda x: (x**2).sum())
