"""f(x0) of the variable-dimension MGH problems, against plain-Python versions of the 1981 definitions.

Moré, Garbow and Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7(1), 1981:
f = sum of the m residuals squared (no 1/2). Each residual below is written from the paper with
scalar loops and :mod:`math`, never from the suite's residuals, so a changed constant, index or
sign in the suite shows even where f* = 0. Two sizes each.
"""

from __future__ import annotations

import math
import re

import jax
import numpy as np
import pytest

from lbfgs_impl.problems import make_problem


def _f(residuals: list[float]) -> float:
    return math.fsum(r * r for r in residuals)


def penalty_1(n: int) -> float:  # (23): m = n + 1, x0_j = j
    x = [float(j) for j in range(1, n + 1)]
    a = 1e-5
    r = [math.sqrt(a) * (xi - 1.0) for xi in x]
    r.append(math.fsum(xi * xi for xi in x) - 0.25)
    return _f(r)


def penalty_2(n: int) -> float:  # (24): m = 2n, x0_j = 1/2
    x = [0.5] * n
    a = 1e-5
    r = [x[0] - 0.2]
    for i in range(2, n + 1):
        y = math.exp(i / 10) + math.exp((i - 1) / 10)
        r.append(math.sqrt(a) * (math.exp(x[i - 1] / 10) + math.exp(x[i - 2] / 10) - y))
    for i in range(n + 1, 2 * n):
        r.append(math.sqrt(a) * (math.exp(x[i - n] / 10) - math.exp(-1 / 10)))
    r.append(math.fsum((n - j + 1) * x[j - 1] ** 2 for j in range(1, n + 1)) - 1.0)
    return _f(r)


def variably_dimensioned(n: int) -> float:  # (25): m = n + 2, x0_j = 1 - j/n
    x = [1.0 - j / n for j in range(1, n + 1)]
    s = math.fsum(j * (x[j - 1] - 1.0) for j in range(1, n + 1))
    return _f([xi - 1.0 for xi in x] + [s, s * s])


def trigonometric(n: int) -> float:  # (26): m = n, x0_j = 1/n
    x = [1.0 / n] * n
    c = math.fsum(math.cos(xj) for xj in x)
    return _f([n - c + i * (1.0 - math.cos(x[i - 1])) - math.sin(x[i - 1]) for i in range(1, n + 1)])


def _t_grid(n: int) -> tuple[float, list[float], list[float]]:
    h = 1.0 / (n + 1)
    t = [i * h for i in range(1, n + 1)]
    return h, t, [ti * (ti - 1.0) for ti in t]  # x0_j = t_j (t_j - 1)


def discrete_boundary_value(n: int) -> float:  # (28): m = n, x_0 = x_{n+1} = 0
    h, t, x = _t_grid(n)
    padded = [0.0, *x, 0.0]
    r = [
        2 * padded[i] - padded[i - 1] - padded[i + 1] + h * h * (padded[i] + t[i - 1] + 1.0) ** 3 / 2
        for i in range(1, n + 1)
    ]
    return _f(r)


def discrete_integral_equation(n: int) -> float:  # (29): m = n
    h, t, x = _t_grid(n)
    r = []
    for i in range(n):
        lower = math.fsum(t[j] * (x[j] + t[j] + 1.0) ** 3 for j in range(i + 1))
        upper = math.fsum((1.0 - t[j]) * (x[j] + t[j] + 1.0) ** 3 for j in range(i + 1, n))
        r.append(x[i] + h * ((1.0 - t[i]) * lower + t[i] * upper) / 2)
    return _f(r)


BY_HAND = {
    "mgh_penalty_1": penalty_1,
    "mgh_penalty_2": penalty_2,
    "mgh_variably_dimensioned": variably_dimensioned,
    "mgh_trigonometric": trigonometric,
    "mgh_discrete_boundary_value": discrete_boundary_value,
    "mgh_discrete_integral_equation": discrete_integral_equation,
}


def test_the_paper_values_that_are_printed():
    # MGH 1981 print f(x0) for none of these; two are easy to do by hand, as a check of the checks
    assert penalty_1(4) == pytest.approx(1e-5 * (0 + 1 + 4 + 9) + (30 - 0.25) ** 2)
    assert variably_dimensioned(2) == pytest.approx(0.25 + 1.0 + 2.5**2 + 2.5**4)  # s = -0.5 - 2 = -2.5


@pytest.mark.parametrize("n", [4, 10])
@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_value_at_the_start_matches_the_paper(name, n):
    p = make_problem(name, n)
    value = float(np.asarray(jax.jit(p.objective)(p.x0, p.data)))
    assert value == pytest.approx(BY_HAND[name](n), rel=1e-12, abs=1e-300)


def test_a_minimum_published_for_one_size_is_that_of_the_default_size():
    from lbfgs_impl.problems import mgh

    checked = 0
    for name, spec in mgh.SPECS.items():
        for label, _ in spec.known_minima:
            if m := re.search(r"n=(\d+)", label):
                assert spec.default_n == int(m.group(1)), (name, label)
                checked += 1
    assert checked >= 1


#: x0 from the paper (f(x0) alone cannot see a sign flip that its squares hide)
X0 = {
    "mgh_penalty_1": lambda n: [float(j) for j in range(1, n + 1)],
    "mgh_penalty_2": lambda n: [0.5] * n,
    "mgh_variably_dimensioned": lambda n: [1.0 - j / n for j in range(1, n + 1)],
    "mgh_trigonometric": lambda n: [1.0 / n] * n,
    "mgh_discrete_boundary_value": lambda n: _t_grid(n)[2],
    "mgh_discrete_integral_equation": lambda n: _t_grid(n)[2],
}


@pytest.mark.parametrize("n", [4, 10])
@pytest.mark.parametrize("name", sorted(X0))
def test_the_start_is_the_papers(name, n):
    np.testing.assert_allclose(np.asarray(make_problem(name, n).x0), X0[name](n), rtol=1e-14, atol=0)


def test_extended_powell_singular_away_from_its_start_and_minimum():
    # x0 = (3, -1, 0, 1) and x* = 0 both have x3 = 0, which hides the third residual's 2 x3
    p = make_problem("mgh_extended_powell_singular", 4)
    a, b, c, d = 1.0, 2.0, 3.0, 4.0
    by_hand = (a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4  # 441+5+256+810
    value = float(np.asarray(jax.jit(p.objective)(np.array([a, b, c, d]), p.data)))
    assert value == pytest.approx(by_hand, rel=1e-14) and by_hand == 1512.0
