"""The floor's two-loop recursion is the L-BFGS direction, with or without ``rho`` given."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from lbfgs_impl.commands.explain.probes import two_loop


def _dense_direction(g, s, y):
    """-H g with H built by the BFGS inverse update from H0 = (s.y / y.y) I (newest pair), oldest first."""
    n = g.shape[0]
    h = np.eye(n) * (s[-1] @ y[-1]) / (y[-1] @ y[-1])
    for si, yi in zip(s, y, strict=True):
        rho = 1.0 / (si @ yi)
        v = np.eye(n) - rho * np.outer(yi, si)
        h = v.T @ h @ v + rho * np.outer(si, si)
    return -h @ g


def test_two_loop_is_the_lbfgs_direction():
    rng = np.random.default_rng(3)
    m, n = 4, 7
    s = rng.standard_normal((m, n))
    y = s + 0.1 * rng.standard_normal((m, n))
    g = rng.standard_normal(n)
    expected = _dense_direction(g, s, y)
    assert np.asarray(two_loop(*map(jnp.asarray, (g, s, y)))) == pytest.approx(expected, rel=1e-10)
    rho = 1.0 / np.sum(s * y, axis=1)
    assert np.asarray(two_loop(*map(jnp.asarray, (g, s, y, rho)))) == pytest.approx(expected, rel=1e-10)
