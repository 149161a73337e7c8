"""XLA's cost analysis comes from private jaxlib APIs: on the running versions each cost figure is
either present and equal to what JAX's public API reports, or carries ``missing: <reason>``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from lbfgs_impl.commands.explain.document import section_static
from lbfgs_impl.commands.explain.static import static_extra_info, static_figures, value_and_grad_summary
from lbfgs_impl.measure import hlo
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver


def _public_cost(compiled) -> dict[str, float]:
    """``Compiled.cost_analysis()``: a dict on newer JAX, a one-item list of dicts on 0.4.x."""
    found = compiled.cost_analysis()
    return found[0] if isinstance(found, list) else found


@pytest.fixture(scope="module")
def compiled():
    problem = make_problem("rosenbrock", 10)
    return jax.jit(jax.value_and_grad(problem.objective)).lower(problem.x0, problem.data).compile()


def test_cost_is_right_or_says_why_missing(compiled):
    summary = hlo.summarize(compiled.as_text(), loop=False, cost=hlo.xla_cost_or_reason)
    api = hlo.cost_api()
    if isinstance(api, str):  # this jaxlib lacks the private API: every figure says so
        assert api.startswith("missing: ")
        assert summary.flops is None and summary.cost_missing == api
        assert summary.iteration.flops is None and summary.iteration.cost_missing == api
        return
    public = _public_cost(compiled)
    assert summary.cost_missing is None and summary.iteration.cost_missing is None
    assert summary.flops == public["flops"] > 0
    assert summary.bytes_accessed == public["bytes accessed"] > 0
    # ENTRY is the iteration of a loop-free executable: the same computation, the same cost
    it = summary.iteration
    assert (it.flops, it.bytes_accessed) == (summary.flops, summary.bytes_accessed)


def test_a_rejected_module_is_a_reason_not_a_number():
    found = hlo.xla_cost_or_reason("not HLO", "x")
    assert isinstance(found, str) and found.startswith("missing: ")
    summary = hlo.summarize("not HLO", loop=False, cost=hlo.xla_cost_or_reason)
    assert summary.flops is None and summary.cost_missing and summary.cost_missing.startswith("missing: ")


def test_without_a_cost_function_every_figure_says_so():
    text = jax.jit(lambda x: jnp.sin(x)).lower(jnp.ones(3)).compile().as_text()
    summary = hlo.summarize(text, loop=False)
    assert summary.cost_missing == summary.iteration.cost_missing == hlo.NO_COST


def test_a_missing_api_reaches_explains_figures_and_document(monkeypatch):
    """Where the private API is absent the reason travels to extra_info and the explain page."""
    reason = "missing: this jaxlib has no HLO-text cost analysis; tried x (ImportError: gone)"
    monkeypatch.setattr(hlo, "cost_api", lambda: reason)
    prepared = get_solver("optax_while").prepare(make_problem("quadratic", 5), SolverConfig())
    prepared.compile()
    figures = static_figures(prepared, prepared.result(prepared.run()))
    assert figures is not None
    info = static_extra_info(figures)
    assert info["hlo_iteration_flops"] is None and info["hlo_iteration_flops_missing"] == reason
    vg = value_and_grad_summary(make_problem("quadratic", 5)).to_dict()
    doc = {"static": {"solvers": {"optax_while": figures}, "value_and_grad": vg}}
    page = "\n".join(section_static(doc))
    assert page.count(reason) == 2  # the solver's row and the value_and_grad line
    assert "0 flops" not in page
