import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lbfgs_impl.problems import make_problem, problem_names


def central_diff_grad(f, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (float(f(jnp.asarray(x + e))) - float(f(jnp.asarray(x - e)))) / (2 * h)
    return g


def test_registry_lists_the_seed_problems_then_the_mgh_set():
    names = problem_names()
    assert names[:3] == ["rosenbrock", "quadratic", "logistic"]
    assert len(names) == 3 + 33 and all(n.startswith("mgh_") for n in names[3:])


def test_rosenbrock_values():
    p = make_problem("rosenbrock", 100)
    assert p.n == 100 and p.x0.shape == (100,) and p.x0.dtype == jnp.float64
    assert float(p.value(p.x0)) == pytest.approx(99.0)  # (1 - 0)^2 for each of n-1 terms
    assert float(p.value(jnp.ones(100))) == 0.0
    assert p.f_star == 0.0
    x = jnp.array([0.5, -1.0, 2.0])
    expected = 100 * (-1.0 - 0.25) ** 2 + 0.5**2 + 100 * (2.0 - 1.0) ** 2 + 2.0**2
    assert float(make_problem("rosenbrock", 3).value(x)) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["rosenbrock", "quadratic", "logistic"])
def test_gradients_match_finite_differences(name):
    p = make_problem(name, 8)
    x = jnp.asarray(np.random.default_rng(1).standard_normal(8) * 0.5)
    _, g = p.value_and_grad(x)
    np.testing.assert_allclose(np.asarray(g), central_diff_grad(p.value, x), rtol=1e-5, atol=1e-6)


def test_quadratic_known_minimum_and_condition_number():
    p = make_problem("quadratic", 12, condition=1e4, seed=3)
    _, c, _ = p.data
    assert float(p.value(c)) == 0.0
    eig = np.linalg.eigvalsh(np.asarray(jax.hessian(p.objective)(p.x0, p.data)))
    assert eig.min() > 0
    assert eig.max() / eig.min() == pytest.approx(1e4, rel=1e-8)
    assert float(p.value(p.x0)) > 0


def test_seeded_problems_are_reproducible_and_seed_dependent():
    a1, a2 = make_problem("logistic", 5, m=20, seed=7), make_problem("logistic", 5, m=20, seed=7)
    b = make_problem("logistic", 5, m=20, seed=8)
    np.testing.assert_array_equal(a1.data[0], a2.data[0])
    assert not np.array_equal(a1.data[0], b.data[0])
    assert a1.data[0].shape == (20, 5)
    assert set(np.unique(np.asarray(a1.data[1]))) <= {-1.0, 1.0}


def test_unknown_problem_lists_valid_names():
    with pytest.raises(ValueError, match="valid problems: rosenbrock, quadratic, logistic"):
        make_problem("rosenbrok")


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, True])
def test_dimension_below_two_or_not_integer_is_rejected(n):
    with pytest.raises(ValueError, match="integer >= 2"):
        make_problem("rosenbrock", n)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("quadratic", {"condition": 0.5}, "condition must be"),
        ("quadratic", {"condition": float("inf")}, "condition must be"),
        ("logistic", {"lam": 0.0}, "lam must be"),
        ("logistic", {"m": 0}, "m \\(samples\\)"),
        ("rosenbrock", {"seed": 1}, "valid parameters: none"),
        ("logistic", {"cond": 3}, "valid parameters: m, lam, seed"),
    ],
)
def test_bad_parameters_are_clear_errors(name, params, match):
    with pytest.raises(ValueError, match=match):
        make_problem(name, 10, **params)
