"""Figures fed by JAX's private APIs: on the running versions each is either right or says
``missing: <reason>``, and a missing API is reported, never a silent None.

XLA's cost analysis of a computation (``measure/hlo.py``), whether JAX's backend has started
(``measure/timing.py``: pinning's ``after_jax_init``), and the fresh caches of a first call
(``commands/report/first_call.py``).
"""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from lbfgs_impl.commands.explain.document import section_static
from lbfgs_impl.commands.explain.static import static_extra_info, static_figures, value_and_grad_summary
from lbfgs_impl.commands.report import first_call
from lbfgs_impl.measure import hlo, hlo_cost, timing
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
    monkeypatch.setattr(hlo_cost, "cost_api", lambda: reason)
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


def test_backend_state_is_right_or_says_why_missing():
    reason = timing.backend_state_missing()
    jnp.ones(2).block_until_ready()  # this process has a backend now
    with timing.pinned() as record:
        pass
    assert record["after_jax_init"] is True
    assert record["after_jax_init_missing"] == reason
    if reason is not None:
        assert reason.startswith("missing: ")
        return
    code = "from lbfgs_impl.measure.timing import jax_backend_initialized as f; import jax; print(f())"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.split() == ["False"]  # imported, not started: the private API tells them apart


def test_backend_state_without_the_private_api_says_why(monkeypatch):
    from jax._src import xla_bridge

    monkeypatch.delattr(xla_bridge, "backends_are_initialized")
    reason = timing.backend_state_missing()
    assert reason and reason.startswith("missing: jax._src.xla_bridge.backends_are_initialized")
    assert timing.jax_backend_initialized() is True  # the stated fallback: assume the worst
    with timing.pinned() as record:
        assert record["after_jax_init"] is True and record["after_jax_init_missing"] == reason


def test_first_call_without_the_private_api_is_a_missing_line(monkeypatch):
    from jax._src import compilation_cache

    monkeypatch.delattr(compilation_cache, "reset_cache")
    with pytest.raises(
        RuntimeError, match=r"^missing: this JAX lacks jax._src.compilation_cache.reset_cache"
    ):
        first_call._first_call_in_child({"cache_dir": None})
