"""The instruction gate at its edges: a count of 0 or below is not measured, and the 0.5% floor itself."""

from __future__ import annotations

import pytest

from lbfgs_impl.tracking.runs import Thresholds, is_count, percent
from lbfgs_impl.tracking.signals import instruction_findings

NAME = "perf/test_lbfgs_perf.py::test_steady[rosenbrock-100-optax_while]"


def info(count, spread: float = 0.0005) -> dict:
    """A count as perf records it, with the thread-pool share (a missing share is a finding of its own)."""
    share = {"instructions_thread_pool_share": 0.2, "instructions_thread_pool_share_samples": [0.2] * 3}
    return {"extra_info": {"instructions": count, "instructions_spread": spread, **share}}


@pytest.mark.parametrize("bad", [0, 0.0, -1, -5e6])
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_a_count_of_zero_or_below_is_not_measured_never_an_improvement(bad, side):
    base, cur = (info(bad), info(1e7)) if side == "baseline" else (info(1e7), info(bad))
    worse, better, compared = instruction_findings(NAME, base, cur, Thresholds())
    assert better == [] and compared is False
    assert [f.kind for f in worse] == ["instructions not measured"]
    assert worse[0].ratio is None
    assert worse[0].rule == f"instructions not measured: {side}: non-numeric count {bad!r}"


def test_is_count_takes_only_finite_positive_numbers():
    assert [is_count(x) for x in (1, 0.5, 1e12)] == [True, True, True]
    assert [is_count(x) for x in (0, -1, float("nan"), float("inf"), True, None, "7")] == [False] * 7


@pytest.mark.parametrize(
    ("factor", "kind"),
    [
        (1.006, "regression"),  # +0.6%, tiny spread: above the 0.5% floor
        (1.004, None),  # +0.4%: inside it
        (0.994, "improvement"),  # -0.6%
        (0.996, None),  # -0.4%
    ],
)
def test_the_half_percent_floor_decides_with_a_tiny_spread(factor, kind):
    th = Thresholds()
    assert th.instruction_limit(0.0005) == 0.005  # the floor, not 3 x the spread
    worse, better, compared = instruction_findings(NAME, info(1e7), info(1e7 * factor), th)
    assert compared is True
    assert [f.kind for f in worse] == (["instructions"] if kind == "regression" else [])
    assert [f.kind for f in better] == (["instructions"] if kind == "improvement" else [])
    for f in worse + better:
        assert f.ratio == pytest.approx(factor)
        assert "limit 0.5% = 3 x the baseline's spread, at least 0.5%, at most 5%" in f.rule


@pytest.mark.parametrize(("rise", "flagged"), [(0.055, False), (0.065, True)])
def test_the_share_band_widens_with_the_baselines_per_process_range(rise, flagged):
    """Band = max(5%, 3 x the baseline's range), at most 10%: a range of 0.02 makes it 6%."""
    base = info(1e7)
    base["extra_info"].update(
        instructions_thread_pool_share=0.20, instructions_thread_pool_share_samples=[0.18, 0.20, 0.20]
    )
    cur = info(1e7)
    cur["extra_info"]["instructions_thread_pool_share"] = 0.20 + rise
    worse, _, _ = instruction_findings(NAME, base, cur, Thresholds())
    assert [f.kind for f in worse] == (["thread-pool share"] if flagged else [])
    if flagged:
        assert "up more than its band 6.0%" in worse[0].rule


@pytest.mark.parametrize(
    ("factor", "said"), [(1.0054, "+0.54% > limit 0.50%"), (0.9946, "-0.54% < -limit 0.50%")]
)
def test_a_change_just_beyond_the_limit_never_reads_equal_to_it(factor, said):
    """At the 0.5% floor one decimal printed +0.54% as "+0.5% > limit 0.5%": digits are added until the
    change and the limit read differently."""
    worse, better, _ = instruction_findings(NAME, info(1e7), info(1e7 * factor), Thresholds())
    (f,) = worse + better
    assert f"instructions {said} = 3 x the baseline's spread" in f.rule


def test_limits_set_on_the_command_line_are_printed_as_set_never_rounded():
    """--instructions-threshold 0.0025 and --instructions-cap 0.025 once read "at least 0.2%/0.3%, at
    most 2%": every limit the gate states is printed with every digit it has."""
    th = Thresholds(
        instructions=0.0025,
        instructions_cap=0.025,
        spread_floor=0.0025,
        share_band=0.025,
        share_band_cap=0.075,
    )
    base, cur = info(1e7, spread=0.0), info(1e7 * 1.03, spread=0.01)
    base["extra_info"]["instructions_thread_pool_share_samples"] = [0.2] * 3
    cur["extra_info"]["instructions_thread_pool_share"] = 0.3
    worse, _, _ = instruction_findings(NAME, base, cur, th)
    rules = {f.kind: f.rule for f in worse}
    assert "at least 0.25%, at most 2.5%" in rules["instructions"]
    assert "max(0.25%, 3 x the baseline's" in rules["instruction spread"]
    assert "(max(2.5%, 3 x the baseline's per-process range), at most 7.5%)" in rules["thread-pool share"]
    assert percent(0.005) == "0.5%" and percent(0.05) == "5%" and percent(0.1) == "10%"


def test_a_spread_just_above_its_limit_never_reads_equal_to_it():
    """A current spread of 0.5004% against the 0.5% floor once read "repeat spread 0.50% > max(0.5%, ...)"."""
    worse, _, _ = instruction_findings(NAME, info(1e7, spread=0.0), info(1e7, spread=0.005004), Thresholds())
    (f,) = worse
    assert f.kind == "instruction spread"
    assert "repeat spread 0.5004% > 0.5000% = max(0.5%, 3 x the baseline's 0.00%)" in f.rule
