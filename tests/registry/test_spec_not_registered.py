"""A solver named as module:attr is loaded once but never becomes a registered name."""

import sys
import textwrap

from lbfgs_impl.solvers import get_solver, solver_names


def test_a_looked_up_module_attr_solver_stays_out_of_the_registered_names(tmp_path, monkeypatch):
    (tmp_path / "lbfgs_bench_spec_probe.py").write_text(
        textwrap.dedent(
            """
            from lbfgs_impl.solvers.protocol import SolveState
            import jax.numpy as jnp

            def solve(objective, x0, data, config):
                return SolveState(x0, jnp.asarray(0), jnp.asarray(0))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    before = solver_names()
    solver = get_solver("lbfgs_bench_spec_probe:solve")
    assert get_solver("lbfgs_bench_spec_probe:solve") is solver  # loaded once
    assert solver_names() == before and "lbfgs_bench_spec_probe:solve" not in solver_names()
    sys.modules.pop("lbfgs_bench_spec_probe", None)
