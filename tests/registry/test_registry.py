"""Where solvers and problems come from: entry points, the built-in table, module:attr, conflicts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import lbfgs_impl.registry as registry
from lbfgs_impl.problems import BUILTIN_PROBLEMS, PROBLEMS, make_problem, problem_names, problem_origin
from lbfgs_impl.solvers import (
    BUILTIN_SOLVERS,
    PEER_SOLVERS,
    SEED_SOLVERS,
    SOLVERS,
    get_solver,
    solver_names,
    solver_origin,
)

REPO = Path(__file__).resolve().parents[2]


def _pyproject_entry_points() -> dict[str, dict[str, str]]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]


def test_pyproject_registers_exactly_the_builtin_tables():
    """The installed package and a source checkout offer the same names, loaded from the same targets."""
    eps = _pyproject_entry_points()
    assert eps[registry.SOLVER_GROUP] == BUILTIN_SOLVERS
    assert eps[registry.PROBLEM_GROUP] == BUILTIN_PROBLEMS


def test_every_builtin_target_loads_to_what_the_registry_holds():
    for name, target in BUILTIN_SOLVERS.items():
        assert type(SOLVERS[name]) is registry.load_target(target, name)
    for name, target in BUILTIN_PROBLEMS.items():
        assert PROBLEMS[name] is registry.load_target(target, name)


def test_seed_and_peer_names_unchanged():
    assert SEED_SOLVERS == ("scipy", "optax_loop", "optax_while")
    assert solver_names()[:3] == list(SEED_SOLVERS)
    assert set(PEER_SOLVERS) == set(BUILTIN_SOLVERS) - set(SEED_SOLVERS)
    assert {"rosenbrock", "quadratic", "logistic", "mgh_wood"} <= set(problem_names())


def test_source_checkout_without_entry_points_uses_the_table(monkeypatch):
    monkeypatch.setattr(registry, "registrations", lambda group: ())
    regs = registry.builtin_registrations(registry.SOLVER_GROUP, BUILTIN_SOLVERS)
    assert [r.name for r in regs] == list(BUILTIN_SOLVERS)
    assert [r.target for r in regs] == list(BUILTIN_SOLVERS.values())
    assert {r.distribution for r in regs} == {"lbfgs-bench"}


def test_installed_entry_points_are_used_in_the_tables_order(monkeypatch):
    own = [
        registry.Registration(
            "optax_while", "lbfgs_impl.solvers.optax_lbfgs:OptaxWhileLoop", "lbfgs-bench", "1"
        ),
        registry.Registration("scipy", "lbfgs_impl.solvers.scipy_lbfgsb:ScipyLBFGSB", "lbfgs-bench", "1"),
        registry.Registration("other", "x:y", "someone-else", "2"),
    ]
    monkeypatch.setattr(registry, "registrations", lambda group: tuple(own))
    regs = registry.builtin_registrations(registry.SOLVER_GROUP, BUILTIN_SOLVERS)
    assert [r.name for r in regs] == ["scipy", "optax_while"]  # only what the distribution declares
    assert list(registry.third_party(registry.SOLVER_GROUP)) == ["other"]


def test_a_name_two_distributions_register_is_refused_in_one_line(monkeypatch):
    both = (
        registry.Registration("twin", "pkg_a:solve", "pkg-a", "1.0"),
        registry.Registration("twin", "pkg_b:solve", "pkg-b", "2.0"),
    )
    monkeypatch.setattr(registry, "registrations", lambda group: both)
    with pytest.raises(registry.PluginError) as info:
        get_solver("twin")
    assert "pkg-a 1.0" in str(info.value) and "pkg-b 2.0" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(registry.PluginError, match=r"pkg-a 1\.0.*pkg-b 2\.0"):
        make_problem("twin", 5)


def test_a_plugin_reusing_a_builtin_name_is_a_conflict(monkeypatch):
    clash = (registry.Registration("scipy", "pkg_a:solve", "pkg-a", "1.0"),)
    monkeypatch.setattr(registry, "registrations", lambda group: clash)
    with pytest.raises(registry.PluginError, match=r"'scipy'.*lbfgs-bench.*pkg-a 1\.0"):
        get_solver("scipy")


def test_origins_of_builtins_name_lbfgs_bench():
    o = solver_origin("optax_while")
    assert (o.kind, o.distribution) == ("built-in", "lbfgs-bench")
    assert problem_origin("mgh_wood").target == "lbfgs_impl.problems.mgh:make_mgh_wood"


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"valid solvers: scipy, optax_loop, optax_while.*module:attr"):
        get_solver("nope")
    with pytest.raises(ValueError, match=r"valid problems: rosenbrock.*module:attr"):
        make_problem("nope")
