"""The report's floor: its arithmetic under a stubbed timer, and the value's sum inside the timed loop."""

from __future__ import annotations

import re
import time

import jax
import numpy as np
import pytest

from lbfgs_impl.commands.report import floor
from lbfgs_impl.problems import make_problem


class _Loop:
    """Stands for a compiled chain of ``count`` evaluations."""

    def __init__(self, count: int):
        self.count = count


@pytest.fixture
def stubbed(monkeypatch):
    """No compilation, no clock: a loop of N evaluations 'takes' ``fixed + N * per`` seconds."""
    timing = {"fixed": 0.004, "per": 2e-6, "calls": [], "points": [], "probe_jitter": [0.0]}

    def fake_time(run, x, data):
        timing["calls"].append(run.count)
        timing["points"].append(np.asarray(x))
        jitter = timing["probe_jitter"][(len(timing["calls"]) - 1) % len(timing["probe_jitter"])]
        return timing["fixed"] + run.count * timing["per"] * (1 + jitter)

    monkeypatch.setattr(floor, "_compiled", lambda problem, count: _Loop(count))
    monkeypatch.setattr(floor, "_time", fake_time)
    return timing


def test_the_floor_is_the_difference_of_2n_and_n_evaluations(stubbed):
    row = floor.evaluation_floor("rosenbrock", 4, count=1000, repeats=3)
    assert stubbed["calls"] == [1000, 2000] * 3  # interleaved, N then 2N
    assert row["evaluations_timed"] == 1000
    assert row["method"] == "(t(2N) - t(N)) / N"
    assert row["seconds_N"] == pytest.approx(0.004 + 1000 * 2e-6)
    assert row["seconds_2N"] == pytest.approx(0.004 + 2000 * 2e-6)
    assert row["seconds_per_evaluation"] == pytest.approx(2e-6, rel=1e-9)  # the fixed cost cancels
    assert row["point"] == "x0 + 0.5" and (row["problem"], row["n"]) == ("rosenbrock", 4)
    x0 = np.asarray(make_problem("rosenbrock", 4).x0)
    for x in stubbed["points"]:  # every timing is at the typical point, not at x0
        np.testing.assert_array_equal(x, x0 + 0.5)


def test_the_defaults_are_five_repeats_and_a_tenth_of_a_second(stubbed):
    stubbed["fixed"] = 0.0
    row = floor.evaluation_floor("rosenbrock", 4)
    assert stubbed["calls"][3:] == [50_000, 100_000] * 5  # after the probe: 5 interleaved pairs
    assert row["evaluations_timed"] == 50_000  # 0.1 s / 2e-6 s


def test_without_a_count_a_probe_of_ten_picks_n_for_the_target(stubbed):
    stubbed["fixed"] = 0.0
    stubbed["probe_jitter"] = [1.0, 0.0, 3.0]  # the probe's three timings: 2x, 1x, 4x; the best is kept
    row = floor.evaluation_floor("rosenbrock", 4, repeats=1, target_s=0.1)
    assert stubbed["calls"][:3] == [10, 10, 10]  # the probe, best of three
    assert row["evaluations_timed"] == 50_000  # 0.1 s / 2e-6 s
    stubbed["probe_jitter"] = [0.0]
    stubbed["per"] = 1e-3  # slow evaluations: never under 10
    assert floor.evaluation_floor("rosenbrock", 4, repeats=1, target_s=0.001)["evaluations_timed"] == 10
    stubbed["per"] = 1e-12  # fast ones: never over MAX_COUNT
    assert floor.evaluation_floor("rosenbrock", 4, repeats=1)["evaluations_timed"] == floor.MAX_COUNT
    assert floor.MAX_COUNT == 1_000_000  # the documented range: 10 to 10^6
    # a probe faster than the clock can say counts as 1 ns an evaluation, not as free
    assert floor.evaluation_floor("rosenbrock", 4, repeats=1, target_s=1e-4)["evaluations_timed"] == 100_000


def test_a_timing_waits_for_the_result():
    class Slow:
        def block_until_ready(self):
            time.sleep(0.02)
            return self

    seconds = floor._time(lambda x, data: Slow(), None, None)
    assert 0.02 <= seconds < 1.0


def test_a_difference_that_is_not_positive_falls_back_to_the_mean(stubbed):
    stubbed["per"] = 0.0  # t(2N) == t(N)
    row = floor.evaluation_floor("rosenbrock", 4, count=100, repeats=2)
    assert row["method"] == "t(2N) / 2N (the difference was not positive)"
    assert row["seconds_per_evaluation"] == pytest.approx(0.004 / 200)


def test_the_overhead_ratio_counts_the_iterations_own_evaluations():
    assert floor.overhead_ratio(10e-6, 2e-6, 1.5) == pytest.approx(3.5)


def test_the_value_is_reduced_inside_the_timed_loop_body():
    """Without the value term XLA drops the value from the loop and the floor times the gradient alone."""
    p = make_problem("rosenbrock", 6)
    x = p.x0 + floor.OFFSET
    hlo = jax.jit(floor.evaluation_chain(p.objective, 3)).lower(x, p.data).compile().as_text()
    # the objective's sum, a scalar made by a reduce (or a fusion of one) in the while loop's body
    scalar_sums = [
        line
        for line in hlo.splitlines()
        if re.search(r"= f64\[\] (reduce|fusion)\(", line) and "while/body" in line and "reduce_sum" in line
    ]
    assert scalar_sums, "the objective's value is not computed in the compiled loop body"
    # and the loop runs its count: every element moved by 3 gradient steps
    out = np.asarray(floor._compiled(p, 3)(x, p.data))
    grad = np.asarray(jax.grad(p.objective)(x, p.data))
    np.testing.assert_allclose(np.asarray(x) - out, 3 * floor.STEP * grad, rtol=1e-3)
