"""The residuals ``r(x)`` of the Moré-Garbow-Hillstrom problems (``f = sum r_i^2``).

Each ``<name>_r(x, data)`` follows the paper's definition (numbers in brackets
in :mod:`lbfgs_impl.problems.mgh` are the paper's problem numbers); ``data``
holds the problem's constants where it has any. The table of starting points,
dimensions and minima is :mod:`lbfgs_impl.problems.mgh`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _arange1(n: int) -> jax.Array:
    return jnp.arange(1, n + 1, dtype=jnp.float64)


# --------------------------------------------------------------------------- fixed dimension


def rosenbrock_r(x, data=None):
    return jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def freudenstein_roth_r(x, data=None):
    return jnp.array(
        [
            -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
            -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1],
        ]
    )


def powell_badly_scaled_r(x, data=None):
    return jnp.array([1e4 * x[0] * x[1] - 1.0, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


def brown_badly_scaled_r(x, data=None):
    return jnp.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


def beale_r(x, data):
    y, i = data
    return y - x[0] * (1.0 - x[1] ** i)


def jennrich_sampson_r(x, data):
    i = data
    return 2.0 + 2.0 * i - (jnp.exp(i * x[0]) + jnp.exp(i * x[1]))


def helical_valley_r(x, data=None):
    # The paper's branch, theta = arctan(x2/x1)/(2 pi) (+ 1/2 where x1 < 0), through arctan2: the same
    # values for x1 != 0, MINPACK's sign(1/4, x2) at x1 = 0, and a finite gradient there (arctan(x2/x1)
    # divides by zero). arctan2/(2 pi) is in (-1/2, 1/2]; where x1 < 0 the paper's theta is in (1/4, 3/4).
    base = jnp.arctan2(x[1], x[0]) / (2.0 * jnp.pi)
    theta = jnp.where((x[0] < 0.0) & (base < 0.0), base + 1.0, base)
    return jnp.array([10.0 * (x[2] - 10.0 * theta), 10.0 * (jnp.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0), x[2]])


def bard_r(x, data):
    y, u, v, w = data
    return y - (x[0] + u / (v * x[1] + w * x[2]))


def gaussian_r(x, data):
    y, t = data
    return x[0] * jnp.exp(-x[1] * (t - x[2]) ** 2 / 2.0) - y


def meyer_r(x, data):
    y, t = data
    return x[0] * jnp.exp(x[1] / (t + x[2])) - y


def gulf_r(x, data):
    t, y = data
    return jnp.exp(-(jnp.abs(y - x[1]) ** x[2]) / x[0]) - t


def box_3d_r(x, data):
    t = data
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) - x[2] * (jnp.exp(-t) - jnp.exp(-10.0 * t))


def powell_singular_r(x, data=None):
    return jnp.array(
        [
            x[0] + 10.0 * x[1],
            jnp.sqrt(5.0) * (x[2] - x[3]),
            (x[1] - 2.0 * x[2]) ** 2,
            jnp.sqrt(10.0) * (x[0] - x[3]) ** 2,
        ]
    )


def wood_r(x, data=None):
    return jnp.array(
        [
            10.0 * (x[1] - x[0] ** 2),
            1.0 - x[0],
            jnp.sqrt(90.0) * (x[3] - x[2] ** 2),
            1.0 - x[2],
            jnp.sqrt(10.0) * (x[1] + x[3] - 2.0),
            (x[1] - x[3]) / jnp.sqrt(10.0),
        ]
    )


def kowalik_osborne_r(x, data):
    y, u = data
    return y - x[0] * (u**2 + u * x[1]) / (u**2 + u * x[2] + x[3])


def brown_dennis_r(x, data):
    t = data
    return (x[0] + t * x[1] - jnp.exp(t)) ** 2 + (x[2] + x[3] * jnp.sin(t) - jnp.cos(t)) ** 2


def osborne_1_r(x, data):
    y, t = data
    return y - (x[0] + x[1] * jnp.exp(-t * x[3]) + x[2] * jnp.exp(-t * x[4]))


def biggs_exp6_r(x, data):
    t = data
    y = jnp.exp(-t) - 5.0 * jnp.exp(-10.0 * t) + 3.0 * jnp.exp(-4.0 * t)
    return x[2] * jnp.exp(-t * x[0]) - x[3] * jnp.exp(-t * x[1]) + x[5] * jnp.exp(-t * x[4]) - y


def osborne_2_r(x, data):
    y, t = data
    return y - (
        x[0] * jnp.exp(-t * x[4])
        + x[1] * jnp.exp(-((t - x[8]) ** 2) * x[5])
        + x[2] * jnp.exp(-((t - x[9]) ** 2) * x[6])
        + x[3] * jnp.exp(-((t - x[10]) ** 2) * x[7])
    )


def watson_r(x, data):
    t = data  # t_i = i / 29, i = 1..29
    n = x.shape[0]
    j = jnp.arange(n, dtype=jnp.float64)
    powers = t[:, None] ** j[None, :]  # t_i^(j-1), j = 1..n
    deriv = jnp.sum(j[None, 1:] * x[None, 1:] * powers[:, :-1], axis=1)  # sum_{j>=2} (j-1) x_j t^(j-2)
    value = powers @ x
    return jnp.concatenate([deriv - value**2 - 1.0, jnp.array([x[0], x[1] - x[0] ** 2 - 1.0])])


# --------------------------------------------------------------------------- variable dimension


def extended_rosenbrock_r(x, data=None):
    odd, even = x[0::2], x[1::2]
    return jnp.concatenate([10.0 * (even - odd**2), 1.0 - odd])


def extended_powell_singular_r(x, data=None):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return jnp.concatenate(
        [a + 10.0 * b, jnp.sqrt(5.0) * (c - d), (b - 2.0 * c) ** 2, jnp.sqrt(10.0) * (a - d) ** 2]
    )


def penalty_1_r(x, data=None):
    return jnp.concatenate([jnp.sqrt(1e-5) * (x - 1.0), jnp.array([jnp.sum(x**2) - 0.25])])


def penalty_2_r(x, data):
    y = data  # y_i = exp(i/10) + exp((i-1)/10), i = 2..n
    n = x.shape[0]
    e = jnp.exp(x / 10.0)
    a = jnp.sqrt(1e-5)
    weights = jnp.arange(n, 0, -1, dtype=jnp.float64)  # n - j + 1
    return jnp.concatenate(
        [
            jnp.array([x[0] - 0.2]),
            a * (e[1:] + e[:-1] - y),
            a * (e[1:] - jnp.exp(-0.1)),
            jnp.array([jnp.sum(weights * x**2) - 1.0]),
        ]
    )


def variably_dimensioned_r(x, data=None):
    s = jnp.sum(_arange1(x.shape[0]) * (x - 1.0))
    return jnp.concatenate([x - 1.0, jnp.array([s, s**2])])


def trigonometric_r(x, data=None):
    n = x.shape[0]
    return n - jnp.sum(jnp.cos(x)) + _arange1(n) * (1.0 - jnp.cos(x)) - jnp.sin(x)


def brown_almost_linear_r(x, data=None):
    n = x.shape[0]
    return jnp.concatenate([x[:-1] + jnp.sum(x) - (n + 1.0), jnp.array([jnp.prod(x) - 1.0])])


def discrete_boundary_value_r(x, data=None):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    t = _arange1(n) * h
    padded = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])
    return 2.0 * x - padded[:-2] - padded[2:] + h**2 * (x + t + 1.0) ** 3 / 2.0


def discrete_integral_equation_r(x, data=None):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    t = _arange1(n) * h
    cube = (x + t + 1.0) ** 3
    lower = jnp.cumsum(t * cube)  # sum_{j<=i} t_j (x_j + t_j + 1)^3
    upper = jnp.sum((1.0 - t) * cube) - jnp.cumsum((1.0 - t) * cube)  # sum_{j>i}
    return x + h * ((1.0 - t) * lower + t * upper) / 2.0


def broyden_tridiagonal_r(x, data=None):
    padded = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])
    return (3.0 - 2.0 * x) * x - padded[:-2] - 2.0 * padded[2:] + 1.0


def broyden_banded_r(x, data):
    band = data  # (n, n) 0/1 matrix: j != i and i-5 <= j <= i+1
    return x * (2.0 + 5.0 * x**2) + 1.0 - band @ (x * (1.0 + x))


def linear_full_rank_r(x, data):
    m = data.shape[0]  # data: a zero vector of length m - n, for the shapes
    s = 2.0 / (x.shape[0] + m) * jnp.sum(x)
    return jnp.concatenate([x - s - 1.0, data - s - 1.0])


def chebyquad_r(x, data):
    integrals = data  # int_0^1 T_i(2t - 1) dt, i = 1..m
    m = integrals.shape[0]
    z = 2.0 * x - 1.0

    def step(carry, _):
        t_prev, t_cur = carry
        t_next = 2.0 * z * t_cur - t_prev
        return (t_cur, t_next), jnp.mean(t_cur)

    _, means = jax.lax.scan(step, (jnp.ones_like(z), z), None, length=m)
    return means - integrals


# --------------------------------------------------------------------------- data
