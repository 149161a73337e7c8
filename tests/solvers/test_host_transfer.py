"""A host solver's evaluations always hand JAX a 64-byte-aligned array (one transfer path, one count)."""

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.measure.timing import count_compilations
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver
from lbfgs_impl.solvers.protocol import HOST_ALIGNMENT, aligned_buffer


def test_aligned_buffer_starts_on_the_boundary_for_every_size():
    for n in (1, 2, 3, 7, 100, 1001):
        buf = aligned_buffer(n)
        assert buf.shape == (n,) and buf.dtype == np.float64
        assert buf.ctypes.data % HOST_ALIGNMENT == 0


def test_scipy_evaluations_receive_the_aligned_buffer_with_the_solver_point():
    prepared = get_solver("scipy").prepare(make_problem("quadratic", 5), SolverConfig())
    prepared.compile()
    inner, seen = prepared._value_and_grad, []

    def spy(x, data):
        seen.append((x.ctypes.data % HOST_ALIGNMENT, np.array(x)))
        return inner(x, data)

    prepared._value_and_grad = spy
    _state, calls = prepared.run()
    assert calls == len(seen) > 1
    assert {offset for offset, _ in seen} == {0}
    assert np.array_equal(seen[0][1], np.asarray(prepared.problem.x0))  # the solver's point, copied in


def test_a_nested_log_with_equal_counts_does_not_close_the_outer_one():
    with count_compilations() as outer:
        with count_compilations() as inner:
            pass
        assert inner == outer  # equal by value: removing by value would have dropped the outer log
        jax.jit(lambda v: jnp.sin(v) * 3.0 + 1.0)(jnp.arange(3.0)).block_until_ready()
    assert outer.n_compilations >= 1 and inner.n_compilations == 0
