"""The gate never passes what it did not compare, and never alerts on nothing (issue 15).

Doctored copies of a real saved quick run (tests/data/quick-run.json), as in test_regressions.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lbfgs_impl.cli import main
from lbfgs_impl.tracking.confirm import _verdict
from lbfgs_impl.tracking.regressions import compare_runs, load_run
from lbfgs_impl.tracking.runs import Finding

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"
SLOWED = "perf/test_lbfgs_perf.py::test_steady[rosenbrock-100-optax_while]"
META = {
    "valgrind": "valgrind-3.19.0",
    "valgrind_flags": ["--tool=callgrind", "--instr-atstart=no"],
    "arch": "x86_64",
    "os_image": "Debian GNU/Linux 12 (bookworm), glibc 2.36",
    "skipped": None,
}


@pytest.fixture
def run_doc() -> dict:
    return json.loads(DATA.read_text())


def write(tmp_path: Path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def bench(doc: dict, fullname: str) -> dict:
    return next(b for b in doc["benchmarks"] if b["fullname"] == fullname)


def counted(doc: dict, *, spread: float = 0.002, share: float = 0.25, **edits) -> dict:
    """A copy whose steady benchmarks carry counts as `pytest perf --perf-instructions` writes them."""
    doc = copy.deepcopy(doc)
    for i, b in enumerate(doc["benchmarks"]):
        if "test_steady" in b["fullname"]:
            net = 1e6 * (10 + i)
            b["extra_info"].update(
                instructions=net,
                instructions_spread=spread,
                instructions_total=net / (1 - share),
                instructions_thread_pool_share=share,
                instructions_thread_pool_share_samples=[share, share, share],
                instructions_errors=[],
                instructions_meta=dict(META),
            )
    for key, value in edits.items():
        bench(doc, SLOWED)["extra_info"][key] = value
    return doc


def clean(doc: dict, commit: str = "a" * 40) -> dict:
    doc = copy.deepcopy(doc)
    doc["commit_info"].update(id=commit, dirty=False)
    return doc


def scale_time(doc: dict, factor: float) -> dict:
    doc = copy.deepcopy(doc)
    stats = bench(doc, SLOWED)["stats"]
    for key in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr", "hd15iqr", "total"):
        stats[key] *= factor
    stats["data"] = [x * factor for x in stats["data"]]
    return doc


def check(tmp_path: Path, base: dict, cur: dict, *extra: str) -> int:
    return main(
        ["check-regressions", write(tmp_path, "b.json", base), write(tmp_path, "c.json", cur), *extra]
    )


# ------------------------------------------------------------------ 1. missing counts


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        (
            {"instructions": None, "instructions_meta": {**META, "skipped": "valgrind is not installed"}},
            "current: skipped: valgrind is not installed",
        ),
        (
            {"instructions": None, "instructions_errors": ["repeat 0: timed out"]},
            "current: repeat 0: timed out",
        ),
        ({"instructions": "n/a"}, "current: non-numeric count 'n/a'"),
        ({"instructions": float("nan")}, "current: non-numeric count nan"),
    ],
    ids=["skipped", "failed", "text", "nan"],
)
def test_a_missing_count_is_a_finding_and_exits_2(tmp_path, capsys, run_doc, edits, reason):
    assert check(tmp_path, counted(run_doc), counted(run_doc, **edits)) == 2  # not comparable, not a pass
    out = capsys.readouterr().out
    regressions = out.split("## Regressions")[1].split("## Improvements")[0]
    assert f"`{SLOWED}` | instructions not measured |" in regressions
    assert f"instructions not measured: {reason}" in regressions


def test_every_benchmark_without_counts_is_named(tmp_path, capsys, run_doc):
    cur = copy.deepcopy(run_doc)  # the current run lost its instruction phase entirely
    assert check(tmp_path, counted(run_doc), cur) == 2
    out = capsys.readouterr().out
    steady = [b["fullname"] for b in run_doc["benchmarks"] if "test_steady" in b["fullname"]]
    for name in steady:
        assert f"`{name}` | instructions not measured |" in out
    assert "current: no instruction count recorded" in out
    assert "| instructions | not compared: counts missing for 6 benchmark(s)" in out


def test_a_baseline_without_an_instruction_phase_is_stated_not_flagged(tmp_path, capsys, run_doc):
    assert check(tmp_path, run_doc, counted(run_doc)) == 0
    assert "| instructions | not compared: the baseline has no instruction counts" in capsys.readouterr().out


# ------------------------------------------------------------------ 2. the baseline's spread


def test_plus_20_percent_with_an_8_percent_current_spread_is_flagged(tmp_path, run_doc):
    base = load_run(write(tmp_path, "b.json", counted(run_doc)))
    cur_doc = counted(run_doc)
    info = bench(cur_doc, SLOWED)["extra_info"]
    info.update(instructions=info["instructions"] * 1.20, instructions_spread=0.08)
    cmp = compare_runs(base, load_run(write(tmp_path, "c.json", cur_doc)))
    found = {(f.benchmark, f.kind): f for f in cmp.regressions}
    assert set(found) == {(SLOWED, "instructions"), (SLOWED, "instruction spread")}
    assert (
        "limit 0.6% = 3 x the baseline's spread, at least 0.5%, at most 5%"
        in found[SLOWED, "instructions"].rule
    )
    assert (
        "repeat spread 8.00% > 0.60% = max(0.5%, 3 x the baseline's 0.20%)"
        in found[SLOWED, "instruction spread"].rule
    )


@pytest.mark.parametrize(
    ("base_spread", "factor", "flagged"),
    [
        (0.002, 1.03, True),  # limit 0.6% = 3 x 0.2% (the floor is 0.5%)
        (0.010, 1.025, False),  # limit 3% = 3 x 1%
        (0.010, 1.035, True),
        (0.040, 1.06, True),  # 3 x 4% = 12%, capped at 5%
        (0.040, 1.045, False),
    ],
)
def test_the_limit_comes_from_the_baseline_spread_and_is_capped(
    tmp_path, run_doc, base_spread, factor, flagged
):
    base = counted(run_doc, spread=base_spread)
    cur = counted(run_doc, spread=base_spread)
    info = bench(cur, SLOWED)["extra_info"]
    info["instructions"] *= factor
    cmp = compare_runs(load_run(write(tmp_path, "b.json", base)), load_run(write(tmp_path, "c.json", cur)))
    assert [(f.benchmark, f.kind) for f in cmp.regressions] == ([(SLOWED, "instructions")] if flagged else [])


# ------------------------------------------------------------------ 3. total and thread-pool share


def test_a_share_rise_beyond_its_band_is_a_finding_and_findings_show_total_and_share(
    tmp_path, capsys, run_doc
):
    cur = counted(
        run_doc, instructions_thread_pool_share=0.40, instructions_thread_pool_share_samples=[0.4] * 3
    )
    assert check(tmp_path, counted(run_doc), cur) == 1
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | thread-pool share | 25.00% | 40.00% |" in out
    assert "up more than its band 5.0%" in out
    assert "thread pool 25.0% / total" in out and "thread pool 40.0%" in out


def test_a_share_move_inside_its_band_is_not_flagged(tmp_path, run_doc):
    cur = counted(run_doc, instructions_thread_pool_share=0.28)
    cmp = compare_runs(
        load_run(write(tmp_path, "b.json", counted(run_doc))), load_run(write(tmp_path, "c.json", cur))
    )
    assert cmp.regressions == []


# ------------------------------------------------------------------ 4. valgrind and image


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("valgrind", "valgrind-3.22.0", "not compared (valgrind valgrind-3.19.0 vs valgrind-3.22.0)"),
        (
            "valgrind_flags",
            ["--tool=callgrind"],
            "not compared (tool flags --tool=callgrind --instr-atstart=no vs",
        ),
        (  # processes that reported several sets (report_environment's join): shown as recorded
            "valgrind_flags",
            "['--tool=callgrind'] / ['--tool=callgrind', '--x']",
            "vs ['--tool=callgrind'] / ['--tool=callgrind', '--x'])",
        ),
        ("arch", "aarch64", "not compared (architecture x86_64 vs aarch64)"),
        ("os_image", "Ubuntu 24.04, glibc 2.39", "not compared (OS/glibc image Debian"),
    ],
)
def test_counts_from_another_environment_are_not_compared_and_exit_2(
    tmp_path, capsys, run_doc, key, value, says
):
    cur = counted(run_doc)
    for b in cur["benchmarks"]:
        if "instructions_meta" in b["extra_info"]:
            b["extra_info"]["instructions_meta"][key] = value
    assert check(tmp_path, counted(run_doc), cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | instructions not compared |" in out and says in out
    assert f"| {'valgrind' if key == 'valgrind' else 'valgrind flags'} |" in out  # the machine table names it


def test_confirm_that_cannot_re_count_says_not_compared_and_exits_2(tmp_path, capsys, run_doc):
    cur = counted(run_doc)
    for b in cur["benchmarks"]:
        if "instructions_meta" in b["extra_info"]:
            b["extra_info"]["instructions_meta"]["valgrind"] = "valgrind-3.22.0"
    not_a_repo = tmp_path / "empty"
    not_a_repo.mkdir()
    assert check(tmp_path, counted(run_doc), cur, "--confirm", "--repo", str(not_a_repo)) == 2
    out = capsys.readouterr().out
    assert "Instruction counts not compared (valgrind valgrind-3.19.0 vs valgrind-3.22.0); re-counting" in out


# ------------------------------------------------------------------ 5. wall time per machine


def test_wall_time_is_compared_with_this_machines_own_baseline(tmp_path, capsys, run_doc):
    other = copy.deepcopy(run_doc)  # no counts: the time finding alerts without needing a confirmation
    other["machine_info"]["cpu"]["brand_raw"] = "Intel(R) Xeon(R) Processor"
    slower = scale_time(run_doc, 1.5)
    time_base = write(tmp_path, "t.json", run_doc)
    argv = [write(tmp_path, "b.json", other), write(tmp_path, "c.json", slower)]
    assert main(["check-regressions", *argv]) == 0  # no baseline of this machine: time not compared
    assert "| wall time | not compared: no wall-time baseline for this machine" in capsys.readouterr().out
    assert main(["check-regressions", *argv, "--time-baseline", time_base]) == 1
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | time |" in out and "(the wall-time baseline of this machine, `" in out


# ------------------------------------------------------------------ 7. nothing changed, nothing alerts


def test_same_clean_commit_versions_and_machine_is_noise_not_an_alert(tmp_path, capsys, run_doc):
    base, cur = clean(counted(run_doc)), clean(counted(scale_time(run_doc, 1.5)))
    assert check(tmp_path, base, cur) == 0
    out = capsys.readouterr().out
    noise = out.split("## Noise: nothing changed between the runs (not alerted)")[1]
    assert f"`{SLOWED}` | time |" in noise and "nothing changed: both runs are of commit aaaaaaaaaa" in noise


def test_a_library_upgrade_is_a_change(tmp_path, run_doc):
    cur = clean(scale_time(run_doc, 1.5))
    for b in cur["benchmarks"]:
        b["extra_info"]["versions"]["jaxlib"] = "0.10.3"
    cmp = compare_runs(
        load_run(write(tmp_path, "b.json", clean(run_doc))), load_run(write(tmp_path, "c.json", cur))
    )
    assert [(f.benchmark, f.kind) for f in cmp.regressions] == [(SLOWED, "time")] and cmp.noise == []


def test_a_time_only_finding_needs_a_decisive_confirmation(tmp_path, capsys, run_doc):
    base, cur = clean(counted(run_doc)), clean(counted(scale_time(run_doc, 1.5)), commit="b" * 40)
    assert check(tmp_path, base, cur) == 0
    out = capsys.readouterr().out
    held = out.split("## Flagged but not confirmed (not alerted)")[1]
    assert f"`{SLOWED}` | time |" in held and "alerts only on a decisive A/B confirmation" in held


def test_a_time_finding_with_instructions_up_alerts(tmp_path, run_doc):
    base = clean(counted(run_doc))
    cur = clean(counted(scale_time(run_doc, 1.5)), commit="b" * 40)
    bench(cur, SLOWED)["extra_info"]["instructions"] *= 1.5
    assert check(tmp_path, base, cur) == 1


def _time_only() -> Finding:
    return Finding(SLOWED, "time", 1.0, 1.5, 1.5, "median", time_only=True)


def test_decisive_means_every_round_beyond_the_threshold_and_the_a_a_spread():
    f = _time_only()
    assert not _verdict(f, [1.5, 1.05, 1.6], [1.0, 1.0, 1.0], 1.10)  # the median (1.5) would have confirmed
    assert "not decisive" in f.confirmation and "rounds 1.50, 1.05, 1.60" in f.confirmation
    assert not _verdict(f, [1.3, 1.3, 1.3], [1.0, 1.35, 0.9], 1.10)  # inside this confirmation's A/A spread
    assert "A/A spread 1.35x" in f.confirmation
    assert _verdict(f, [1.3, 1.25, 1.4], [1.02, 0.97, 1.05], 1.10)
    assert "decisive, confirmed" in f.confirmation


def test_any_time_finding_needs_its_median_beyond_the_a_a_spread_of_the_same_confirmation():
    """As measured under a load average of 20: identical code gave A/B 2.08, 0.91, 2.96 and A/A 2.18."""
    f = Finding(SLOWED, "time", 1.0, 3.0, 3.0, "median")  # no counts to look at: the median rule
    assert not _verdict(f, [2.08, 0.91, 2.96], [1.0, 2.18, 0.8], 1.50)
    assert "median > 1.50x and > the A/A spread: not reproduced" in f.confirmation
    assert _verdict(f, [3.0, 2.9, 3.1], [1.0, 1.2, 0.9], 1.50)


def test_a_ratio_next_to_its_bound_is_printed_until_it_shows_which_side_it_is_on():
    from lbfgs_impl.tracking.confirm import ratio_text

    # CI on an AMD VM printed "fastest-sample ratio 1.50x ... median > 1.50x: confirmed".
    assert ratio_text(1.5012, 1.5) == "1.501" and float(ratio_text(1.5012, 1.5)) > 1.5
    assert ratio_text(1.49996, 1.5) == "1.49996" and float(ratio_text(1.49996, 1.5)) < 1.5
    assert ratio_text(1.73, 1.5) == "1.73" and ratio_text(1.5, 1.5) == "1.50"
    f = Finding("b", "time", 1.0, 1.5012, 1.5012, "median")
    assert _verdict(f, [1.5012], [1.0], 1.5) and "ratio 1.501x" in f.confirmation

    # The A/A spread as the bound: printed with the digits that tell it from the ratio (review finding).
    for ratio, spread, confirmed in ((1.603, 1.6049, False), (1.598, 1.5962, True)):
        f = Finding("b", "time", 1.0, ratio, ratio, "median")
        assert _verdict(f, [ratio], [spread], 1.5) is confirmed
        shown_ratio = float(f.confirmation.split("fastest-sample ratio ")[1].split("x")[0])
        shown_spread = float(f.confirmation.split("A/A spread ")[1].split("x")[0])
        assert (shown_ratio > shown_spread) is confirmed, f.confirmation
    assert float(ratio_text(1.5000003, 1.5)) > 1.5
