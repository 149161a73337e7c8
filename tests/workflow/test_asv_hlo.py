"""benchmarks/hlo.py: the static HLO track_ lines are the figures ``explain`` reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import hlo  # noqa: E402


def test_track_lines_are_explains_static_figures(monkeypatch):
    from lbfgs_impl.commands.explain.static import solver_static
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig

    monkeypatch.setattr(hlo, "CASES", ["quadratic-5"])
    monkeypatch.setattr(hlo, "SOLVERS", ["optax_while"])
    bench = hlo.StaticHLO()
    figures = bench.setup_cache()
    bench.setup(figures, "optax_while", "quadratic-5")
    expected = solver_static("optax_while", make_problem("quadratic", 5), SolverConfig())
    assert bench.track_kernels_per_iteration(figures, "optax_while", "quadratic-5") == pytest.approx(
        expected["kernels_per_iteration_total"]
    )
    assert bench.track_iteration_body_kernels(figures, "optax_while", "quadratic-5") > 0
    assert hlo.StaticHLOLineSearch().track_line_search_body_kernels(figures, "optax_while", "quadratic-5") > 0
    assert hlo.StaticHLOCost().track_iteration_body_flops(figures, "optax_while", "quadratic-5") > 0
    assert bench.track_dispatches_per_iteration(figures, "optax_while", "quadratic-5") < 1
    with pytest.raises(NotImplementedError):
        bench.setup(figures, "scipy", "quadratic-5")


def test_a_commit_without_the_module_is_skipped(monkeypatch):
    monkeypatch.setattr(hlo, "_static", lambda: None)
    figures = hlo.StaticHLO().setup_cache()
    with pytest.raises(NotImplementedError, match="no static HLO figures"):
        hlo.StaticHLO().setup(figures, "scipy", "rosenbrock-100")


def test_a_solver_without_a_line_search_loop_in_xla_is_skipped_in_setup():
    """asv counts NotImplementedError as a skip only from setup: scipy's line search is in Fortran."""
    figures = {("scipy", "rosenbrock-10"): {"hlo": {"line_search": None, "iteration": {"flops": None}}}}
    with pytest.raises(NotImplementedError, match="no line-search loop"):
        hlo.StaticHLOLineSearch().setup(figures, "scipy", "rosenbrock-10")
    with pytest.raises(NotImplementedError, match="cost analysis"):
        hlo.StaticHLOCost().setup(figures, "scipy", "rosenbrock-10")
