"""The Moré, Garbow and Hillstrom unconstrained test set, as JAX objectives.

Source of every definition, starting point and minimum value, unless a
problem says otherwise: J. J. Moré, B. S. Garbow and K. E. Hillstrom,
"Testing Unconstrained Optimization Software", ACM TOMS 7(1):17-41, 1981
(numbers in brackets below are the paper's problem numbers). MGH define
``f(x) = sum_i r_i(x)^2`` (no factor 1/2), and so does this module.

Known traps, handled here:

* Gulf research and development [11]: the paper's "mi" in ``|y_i mi x_2|`` is
  a minus sign: ``r_i = exp(-|y_i - x_2|^x_3 / x_1) - t_i``;
* Gulf [11] allows any m with n <= m <= 100: m = 99 here (MINPACK's choice; f* = 0 for every m);
* Helical valley [7]: theta through ``arctan2`` keeping the paper's branch (see its residual);
* Penalty I [23] at n=4: f* = 2.24997e-5 (a commonly copied SIF comment says e-4);
* Penalty II [24]: ``exp(x/10)`` terms overflow quickly away from the start, so
  only n <= 10 is offered;
* several problems have more than one minimum or a minimum at infinity; each
  lists them in ``known_minima`` so a report can say which one a solver reached.

``f(x0)`` values quoted in the tests are worked out by hand from these
definitions (for example Wood: 19192, Powell singular: 215, Helical valley:
2500); the minimum values are the paper's, 6 significant digits, except where six digits are too
few for the tightest success test (1e-7 of max(1, |f*|)): Meyer [10], Jennrich-Sampson [6] (m = 10),
Kowalik-Osborne [15] and Chebyquad [35] (n = 8, 10) carry 15 significant digits, computed by
Levenberg-Marquardt on the residuals to xtol = ftol = gtol = 1e-15 and evaluated again at that
minimiser in 50-digit decimal arithmetic; they agree with the paper's six digits and with the longer
values published since (Meyer 87.9458551..., Jennrich-Sampson 124.362182..., Kowalik-Osborne
3.07505603...e-4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lbfgs_impl.problems.base import Problem
from lbfgs_impl.problems.mgh_residuals import (
    bard_r,
    beale_r,
    biggs_exp6_r,
    box_3d_r,
    brown_almost_linear_r,
    brown_badly_scaled_r,
    brown_dennis_r,
    broyden_banded_r,
    broyden_tridiagonal_r,
    chebyquad_r,
    discrete_boundary_value_r,
    discrete_integral_equation_r,
    extended_powell_singular_r,
    extended_rosenbrock_r,
    freudenstein_roth_r,
    gaussian_r,
    gulf_r,
    helical_valley_r,
    jennrich_sampson_r,
    kowalik_osborne_r,
    linear_full_rank_r,
    meyer_r,
    osborne_1_r,
    osborne_2_r,
    penalty_1_r,
    penalty_2_r,
    powell_badly_scaled_r,
    powell_singular_r,
    rosenbrock_r,
    trigonometric_r,
    variably_dimensioned_r,
    watson_r,
    wood_r,
)

Residual = Callable[[jax.Array, Any], jax.Array]


class Spec(NamedTuple):
    """How to build one MGH problem.

    Attributes:
      number: the paper's problem number.
      residual: ``r(x, data) -> (m,)``; ``f = sum(r**2)``.
      n: the fixed dimension, or ``None`` for a variable-dimension problem.
      default_n: the dimension used when none is given.
      check_n: raises ``ValueError`` for a dimension the problem does not allow.
      x0: standard starting point, as a function of n.
      data: the problem's constants, as a function of n (``None`` when none).
      f_star: the known minimum value as a function of n (``None`` when MGH give none for that n).
      known_minima: other known minimum values ``(label, value)`` (local, or at infinity).
    """

    number: int
    residual: Residual
    n: int | None
    default_n: int
    x0: Callable[[int], np.ndarray]
    data: Callable[[int], Any]
    f_star: Callable[[int], float | None]
    known_minima: tuple[tuple[str, float], ...] = ()
    check_n: Callable[[int], None] = lambda n: None


def _consts(*values: Any) -> Callable[[int], Any]:
    """Constant data, turned into JAX arrays only when a problem is built (importing must not start JAX)."""
    host = tuple(np.asarray(v, dtype=np.float64) for v in values)

    def data(n: int) -> Any:
        arrays = tuple(jnp.asarray(a) for a in host)
        return arrays if len(arrays) > 1 else arrays[0]

    return data


def _none(n: int) -> None:
    return None


_BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
_BARD_U = np.arange(1, 16, dtype=float)
_BARD_V = 16.0 - _BARD_U
_GAUSSIAN_Y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989]
_GAUSSIAN_Y = _GAUSSIAN_Y + _GAUSSIAN_Y[-2::-1]
_MEYER_Y = [
    34780,
    28610,
    23650,
    19630,
    16370,
    13720,
    11540,
    9744,
    8261,
    7030,
    6005,
    5147,
    4427,
    3820,
    3307,
    2872,
]
_GULF_M = 99
_GULF_T = np.arange(1, _GULF_M + 1) / 100.0
_KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
_KOWALIK_U = [4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]
_OSBORNE1_Y = [
    0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
    0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
    0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406,
]  # fmt: skip
_OSBORNE2_Y = [
    1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679, 0.608,
    0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661,
    0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428,
    0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559,
    0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054,
]  # fmt: skip


def _penalty_2_data(n: int) -> jax.Array:
    i = np.arange(2, n + 1, dtype=float)
    return jnp.asarray(np.exp(i / 10.0) + np.exp((i - 1.0) / 10.0))


def _broyden_band(n: int) -> jax.Array:
    i, j = np.indices((n, n))
    return jnp.asarray(((j != i) & (j >= i - 5) & (j <= i + 1)).astype(float))


def _chebyquad_integrals(n: int) -> jax.Array:
    i = np.arange(1, n + 1, dtype=float)
    even = i % 2 == 0
    integrals = np.zeros(n)
    integrals[even] = -1.0 / (i[even] ** 2 - 1.0)
    return jnp.asarray(integrals)


def _t_grid_x0(n: int) -> np.ndarray:
    t = np.arange(1, n + 1) / (n + 1.0)
    return t * (t - 1.0)


def _even(n: int) -> None:
    if n % 2:
        raise ValueError(f"n must be even for this problem, got {n}")


def _multiple_of_4(n: int) -> None:
    if n % 4:
        raise ValueError(f"n must be a multiple of 4 for this problem, got {n}")


def _at_most(limit: int) -> Callable[[int], None]:
    def check(n: int) -> None:
        if n > limit:
            raise ValueError(f"n must be <= {limit} for this problem, got {n}")

    return check


def _table(values: dict[int, float]) -> Callable[[int], float | None]:
    return values.get


def _zero(n: int) -> float:
    return 0.0


def _fixed(*x0: float) -> Callable[[int], np.ndarray]:
    return lambda n: np.array(x0, dtype=float)


SPECS: dict[str, Spec] = {
    "mgh_rosenbrock": Spec(1, rosenbrock_r, 2, 2, _fixed(-1.2, 1.0), _none, _zero),
    "mgh_freudenstein_roth": Spec(
        2, freudenstein_roth_r, 2, 2, _fixed(0.5, -2.0), _none, _zero,
        (("local minimum at (11.41, -0.8968)", 48.9842),),
    ),
    "mgh_powell_badly_scaled": Spec(3, powell_badly_scaled_r, 2, 2, _fixed(0.0, 1.0), _none, _zero),
    "mgh_brown_badly_scaled": Spec(4, brown_badly_scaled_r, 2, 2, _fixed(1.0, 1.0), _none, _zero),
    "mgh_beale": Spec(
        5, beale_r, 2, 2, _fixed(1.0, 1.0), _consts([1.5, 2.25, 2.625], [1.0, 2.0, 3.0]), _zero,
    ),
    "mgh_jennrich_sampson": Spec(
        6, jennrich_sampson_r, 2, 2, _fixed(0.3, 0.4), _consts(np.arange(1, 11)), lambda n: 124.362182355615,
    ),
    "mgh_helical_valley": Spec(7, helical_valley_r, 3, 3, _fixed(-1.0, 0.0, 0.0), _none, _zero),
    "mgh_bard": Spec(
        8, bard_r, 3, 3, _fixed(1.0, 1.0, 1.0),
        _consts(_BARD_Y, _BARD_U, _BARD_V, np.minimum(_BARD_U, _BARD_V)), lambda n: 8.21487e-3,
        (("at infinity (0.8406, -inf, -inf)", 17.4286),),
    ),
    "mgh_gaussian": Spec(
        9, gaussian_r, 3, 3, _fixed(0.4, 1.0, 0.0),
        _consts(_GAUSSIAN_Y, (8.0 - np.arange(1, 16)) / 2.0), lambda n: 1.12793e-8,
    ),
    "mgh_meyer": Spec(
        10, meyer_r, 3, 3, _fixed(0.02, 4000.0, 250.0),
        _consts(_MEYER_Y, 45.0 + 5.0 * np.arange(1, 17)), lambda n: 87.9458551708511,
    ),
    "mgh_gulf": Spec(
        11, gulf_r, 3, 3, _fixed(5.0, 2.5, 0.15),
        _consts(_GULF_T, 25.0 + (-50.0 * np.log(_GULF_T)) ** (2.0 / 3.0)), _zero,
    ),
    "mgh_box_3d": Spec(12, box_3d_r, 3, 3, _fixed(0.0, 10.0, 20.0), _consts(0.1 * np.arange(1, 11)), _zero),
    "mgh_powell_singular": Spec(13, powell_singular_r, 4, 4, _fixed(3.0, -1.0, 0.0, 1.0), _none, _zero),
    "mgh_wood": Spec(14, wood_r, 4, 4, _fixed(-3.0, -1.0, -3.0, -1.0), _none, _zero),
    "mgh_kowalik_osborne": Spec(
        15, kowalik_osborne_r, 4, 4, _fixed(0.25, 0.39, 0.415, 0.39),
        _consts(_KOWALIK_Y, _KOWALIK_U), lambda n: 3.07505603849237e-4,
        (("at infinity (+inf, -14.07, -inf, -inf)", 1.02734e-3),),
    ),
    "mgh_brown_dennis": Spec(
        16, brown_dennis_r, 4, 4, _fixed(25.0, 5.0, -5.0, -1.0), _consts(np.arange(1, 21) / 5.0),
        lambda n: 85822.2,
    ),
    "mgh_osborne_1": Spec(
        17, osborne_1_r, 5, 5, _fixed(0.5, 1.5, -1.0, 0.01, 0.02),
        _consts(_OSBORNE1_Y, 10.0 * np.arange(33)), lambda n: 5.46489e-5,
    ),
    "mgh_biggs_exp6": Spec(
        18, biggs_exp6_r, 6, 6, _fixed(1.0, 2.0, 1.0, 1.0, 1.0, 1.0), _consts(0.1 * np.arange(1, 14)), _zero,
        (("local minimum", 5.65565e-3),),
    ),
    "mgh_osborne_2": Spec(
        19, osborne_2_r, 11, 11, _fixed(1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5),
        _consts(_OSBORNE2_Y, np.arange(65) / 10.0), lambda n: 4.01377e-2,
    ),
    "mgh_watson": Spec(
        20, watson_r, None, 6, np.zeros, _consts(np.arange(1, 30) / 29.0),
        _table({6: 2.28767e-3, 9: 1.39976e-6, 12: 4.72238e-10}), check_n=_at_most(31),
    ),
    "mgh_extended_rosenbrock": Spec(
        21, extended_rosenbrock_r, None, 10, lambda n: np.tile([-1.2, 1.0], n // 2), _none, _zero,
        check_n=_even,
    ),
    "mgh_extended_powell_singular": Spec(
        22, extended_powell_singular_r, None, 12, lambda n: np.tile([3.0, -1.0, 0.0, 1.0], n // 4), _none,
        _zero, check_n=_multiple_of_4,
    ),
    "mgh_penalty_1": Spec(
        23, penalty_1_r, None, 10, lambda n: np.arange(1.0, n + 1.0), _none,
        _table({4: 2.24997e-5, 10: 7.08765e-5}),
    ),
    "mgh_penalty_2": Spec(
        24, penalty_2_r, None, 10, lambda n: np.full(n, 0.5), _penalty_2_data,
        _table({4: 9.37629e-6, 10: 2.93660e-4}), check_n=_at_most(10),
    ),
    "mgh_variably_dimensioned": Spec(
        25, variably_dimensioned_r, None, 10, lambda n: 1.0 - np.arange(1, n + 1) / n, _none, _zero
    ),
    "mgh_trigonometric": Spec(
        26, trigonometric_r, None, 10, lambda n: np.full(n, 1.0 / n), _none, _zero,
        (("local minimum (n=10)", 2.79506e-5),),
    ),
    "mgh_brown_almost_linear": Spec(
        27, brown_almost_linear_r, None, 10, lambda n: np.full(n, 0.5), _none, _zero,
        (("local minimum", 1.0),),
    ),
    "mgh_discrete_boundary_value": Spec(
        28, discrete_boundary_value_r, None, 10, _t_grid_x0, _none, _zero
    ),
    "mgh_discrete_integral_equation": Spec(
        29, discrete_integral_equation_r, None, 10, _t_grid_x0, _none, _zero
    ),
    "mgh_broyden_tridiagonal": Spec(30, broyden_tridiagonal_r, None, 10, lambda n: -np.ones(n), _none, _zero),
    "mgh_broyden_banded": Spec(31, broyden_banded_r, None, 10, lambda n: -np.ones(n), _broyden_band, _zero),
    "mgh_linear_full_rank": Spec(
        32, linear_full_rank_r, None, 10, np.ones, lambda n: jnp.zeros(n), lambda n: float(n),
    ),
    "mgh_chebyquad": Spec(
        35, chebyquad_r, None, 8, lambda n: np.arange(1, n + 1) / (n + 1.0), _chebyquad_integrals,
        lambda n: {8: 3.51687372567793e-3, 10: 6.50395480088231e-3}.get(n, 0.0 if n <= 7 or n == 9 else None),
    ),
}  # fmt: skip
"""Every MGH problem offered, by registry name. ``mgh_linear_full_rank`` uses m = 2n (f* = m - n = n)."""


def _sum_of_squares(residual: Residual) -> Callable[[jax.Array, Any], jax.Array]:
    def objective(x: jax.Array, data: Any = None) -> jax.Array:
        r = residual(x, data)
        return jnp.sum(r * r)

    objective.__name__ = objective.__qualname__ = residual.__name__.removesuffix("_r")
    objective.__doc__ = f"sum of squares of :func:`{residual.__name__}` (MGH: no factor 1/2)"
    return objective


#: One objective function object per problem, made once, so that JAX's caches recognise it.
OBJECTIVES: dict[str, Callable[[jax.Array, Any], jax.Array]] = {
    name: _sum_of_squares(spec.residual) for name, spec in SPECS.items()
}


def make_mgh(name: str, n: int | None = None) -> Problem:
    """Build the MGH problem ``name`` (see :data:`SPECS`) at dimension ``n``."""
    spec = SPECS[name]
    if n is None:
        n = spec.default_n
    if spec.n is not None and n != spec.n:
        raise ValueError(f"{name} has fixed dimension {spec.n}, got n={n}")
    spec.check_n(n)
    params = {"mgh_number": spec.number, "known_minima": [list(k) for k in spec.known_minima]}
    x0 = jnp.asarray(spec.x0(n), dtype=jnp.float64)
    return Problem(name, n, OBJECTIVES[name], x0, spec.data(n), spec.f_star(n), params)


def _factory(name: str) -> Callable[..., Problem]:
    def factory(n: int | None = None) -> Problem:
        return make_mgh(name, n)

    factory.__name__ = f"make_{name}"
    factory.__doc__ = f"MGH problem {SPECS[name].number}: {name.removeprefix('mgh_').replace('_', ' ')}."
    return factory


FACTORIES: dict[str, Callable[..., Problem]] = {name: _factory(name) for name in SPECS}
# each factory also as a module attribute (make_mgh_rosenbrock...), the target of its entry point
globals().update({factory.__name__: factory for factory in FACTORIES.values()})

#: The standard set the ``profile`` command runs: every problem at its default dimension.
STANDARD_SET: tuple[str, ...] = tuple(SPECS)
