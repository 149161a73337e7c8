"""Doctored copies of a real perf file (tests/data/quick-run.json) that the gate must not read as a pass.

Exit codes: 0 nothing found, 1 a regression, 2 not comparable (or bad input), 3 an internal error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gate_trust import SLOWED, bench, check, clean, counted

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"


@pytest.fixture
def run_doc() -> dict:
    return json.loads(DATA.read_text())


def _regressions(out: str) -> str:
    return out.split("## Regressions")[1].split("## Improvements")[0]


@pytest.mark.parametrize(
    ("key", "value"),
    [("median", float("nan")), ("median", None), ("median", "0.1"), ("median", 0.0), ("q1", float("nan"))],
    ids=["median-nan", "median-null", "median-text", "median-zero", "q1-nan-no-samples"],
)
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_an_unusable_time_figure_is_not_compared_never_a_pass(tmp_path, capsys, run_doc, key, value, side):
    """A median (or, without samples, a quartile) that is not a finite positive number: exit 2, named."""
    doctored = clean(run_doc, "b" * 40)
    stats = bench(doctored, SLOWED)["stats"]
    stats["data"] = []  # so that the quartiles decide
    stats[key] = value
    base, cur = (doctored, clean(run_doc)) if side == "baseline" else (clean(run_doc), doctored)
    assert check(tmp_path, base, cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | time not measured |" in _regressions(out)
    assert "compared for 11 of 12 benchmark(s)" in out


def test_nan_samples_are_not_a_significant_slowdown(tmp_path, capsys, run_doc):
    """Samples that are NaN give the rank test p=nan: not a regression (exit 1) but not measured (exit 2)."""
    cur = clean(run_doc, "b" * 40)
    stats = bench(cur, SLOWED)["stats"]
    stats["median"] *= 2
    stats["data"] = [float("nan")] * len(stats["data"])
    assert check(tmp_path, clean(run_doc), cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | time not measured |" in _regressions(out)
    assert "p=nan" not in out


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "abc", -1.0])
def test_an_unusable_current_spread_is_not_a_quiet_count(tmp_path, capsys, run_doc, value):
    """A repeat spread that is NaN/text/negative cannot pass the spread rule silently (nor crash: exit 3)."""
    base, cur = clean(counted(run_doc)), clean(counted(run_doc, instructions_spread=value), "b" * 40)
    assert check(tmp_path, base, cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | instructions not measured |" in _regressions(out)
    assert "spread" in _regressions(out)


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda d: d.update(machine_info=None), "machine_info"),
        (lambda d: d["machine_info"].update(cpu="x"), "machine_info"),
        (lambda d: d.update(commit_info="x"), "commit_info"),
        (lambda d: bench(d, SLOWED).update(extra_info="x"), "extra_info"),
        (lambda d: bench(d, SLOWED).update(stats=None), "stats"),
        (lambda d: bench(d, SLOWED).update(fullname=["a"]), "fullname"),
    ],
    ids=["machine-null", "cpu-text", "commit-text", "extra-text", "stats-null", "fullname-list"],
)
def test_a_malformed_file_is_bad_input_not_an_internal_error(tmp_path, capsys, run_doc, edit, what):
    cur = clean(run_doc, "b" * 40)
    edit(cur)
    assert check(tmp_path, clean(run_doc), cur) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and what in err


def test_tonights_own_run_saved_in_the_history_is_not_last_night(tmp_path, capsys, run_doc):
    """With --benchmark-autosave tonight is in the storage folder too: it must not be its own baseline."""
    from test_history import history_check, night, store

    for k in range(1, 4):
        store(tmp_path / "history", k, night(run_doc, k, 1.0))
    tonight = night(run_doc, 9, 1.0)
    bench(tonight, SLOWED)["extra_info"]["n_iter"] *= 2
    store(tmp_path / "history", 4, tonight)  # the same run, under the storage's name
    assert history_check(tmp_path / "history", tonight, tmp_path) == 1
    assert f"`{SLOWED}` | n_iter |" in _regressions(capsys.readouterr().out)


@pytest.mark.parametrize("factor", ["inf", "nan", "1"])
def test_a_quality_factor_that_can_never_fire_is_bad_input(tmp_path, capsys, run_doc, factor):
    """--quality-factor inf would pass any loss or gradient norm that stays finite."""
    assert check(tmp_path, clean(run_doc), clean(run_doc, "b" * 40), "--quality-factor", factor) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--quality-factor must be a finite number > 1" in err[0]


def test_a_history_holding_only_tonights_own_run_has_no_baseline(tmp_path, capsys, run_doc):
    """Its only night is tonight (autosave): no baseline (exit 2), never a green first night."""
    from test_history import history_check, night, store

    tonight = night(run_doc, 9, 1.0)
    store(tmp_path / "history", 1, tonight)
    assert history_check(tmp_path / "history", tonight, tmp_path) == 2
    assert "no baseline" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["n_iter", "n_fev"])
def test_a_count_that_rises_from_zero_is_a_regression(tmp_path, capsys, run_doc, key):
    """A baseline count of 0 (the start already solved it) has no ratio: a rise from it still counts."""
    base, cur = clean(run_doc), clean(run_doc, "b" * 40)
    bench(base, SLOWED)["extra_info"][key] = 0
    assert check(tmp_path, base, cur) == 1
    assert f"`{SLOWED}` | {key} |" in _regressions(capsys.readouterr().out)


def test_tonight_older_than_the_last_night_is_bad_input(tmp_path, capsys, run_doc):
    """An old run checked against a newer night reads every change backwards (a regression as a fix)."""
    from test_history import history_check, night, store

    for k, day in ((1, "03"), (2, "04")):
        doc = night(run_doc, k, 1.0)
        doc["datetime"] = f"2026-12-{day}T02:00:00.000000+00:00"
        store(tmp_path / "history", k, doc)
    tonight = night(run_doc, 9, 1.0)
    tonight["datetime"] = "2026-12-01T02:00:00.000000+00:00"
    assert history_check(tmp_path / "history", tonight, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "older than" in err[0] and "0002_" in err[0]
