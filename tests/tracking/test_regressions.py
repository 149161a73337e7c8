"""`lbfgs-bench check-regressions` on a real saved quick run (tests/data) and edited copies."""

from __future__ import annotations

import copy
import json
import statistics
from pathlib import Path

import pytest

from lbfgs_impl.cli import main
from lbfgs_impl.tracking.regressions import compare_runs, load_run

META = {
    "valgrind": "valgrind-3.19.0",
    "valgrind_flags": ["--tool=callgrind", "--instr-atstart=no"],
    "arch": "x86_64",
    "os_image": "Debian GNU/Linux 12 (bookworm), glibc 2.36",
    "skipped": None,
}
DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"
SLOWED = "perf/test_lbfgs_perf.py::test_steady[rosenbrock-100-optax_while]"
STATS_KEYS_SCALED = (
    "min",
    "max",
    "mean",
    "stddev",
    "median",
    "iqr",
    "q1",
    "q3",
    "ld15iqr",
    "hd15iqr",
    "total",
)


@pytest.fixture
def run_doc() -> dict:
    return json.loads(DATA.read_text())


def write(tmp_path: Path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def bench(doc: dict, fullname: str) -> dict:
    return next(b for b in doc["benchmarks"] if b["fullname"] == fullname)


def scale_time(doc: dict, fullname: str, factor: float) -> dict:
    doc = copy.deepcopy(doc)
    stats = bench(doc, fullname)["stats"]
    for key in STATS_KEYS_SCALED:
        stats[key] *= factor
    stats["data"] = [x * factor for x in stats["data"]]
    return doc


def test_the_data_file_is_a_real_quick_run(run_doc):
    names = [b["fullname"] for b in run_doc["benchmarks"]]
    assert len(names) == 12 and all(b["stats"]["data"] for b in run_doc["benchmarks"])
    assert run_doc["machine_info"]["python_implementation"] == "CPython"


def test_same_results_twice_is_exit_0(tmp_path, capsys):
    report = tmp_path / "report.md"
    assert main(["check-regressions", str(DATA), str(DATA), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "**No regressions.** 12 benchmark(s) compared" in out
    assert report.read_text() == out


def test_samples_scaled_by_1_5_is_a_time_regression_named_in_the_report(tmp_path, capsys, run_doc):
    current = write(tmp_path, "cur.json", scale_time(run_doc, SLOWED, 1.5))
    assert main(["check-regressions", str(DATA), current]) == 1
    out = capsys.readouterr().out
    regressions = out.split("## Regressions")[1].split("## Improvements")[0]
    assert f"`{SLOWED}` | time |" in regressions
    assert "1.50x" in regressions and "Mann-Whitney U" in regressions
    assert regressions.count("| time |") == 1  # nothing else flagged


def test_without_raw_samples_the_interquartile_rule_applies(tmp_path, run_doc):
    doc = scale_time(run_doc, SLOWED, 1.5)
    for d in (doc, run_doc):
        for b in d["benchmarks"]:
            b["stats"].pop("data")
    cmp = compare_runs(load_run(write(tmp_path, "b.json", run_doc)), load_run(write(tmp_path, "c.json", doc)))
    (finding,) = cmp.regressions
    assert finding.benchmark == SLOWED and "interquartile ranges do not overlap" in finding.rule


def set_samples(doc: dict, fullname: str, data: list[float]) -> None:
    stats = bench(doc, fullname)["stats"]
    q = statistics.quantiles(data, n=4)
    stats.update(data=data, median=statistics.median(data), q1=q[0], q3=q[2], iqr=q[2] - q[0])
    stats.update(min=min(data), max=max(data), mean=statistics.mean(data), rounds=len(data))


def test_a_median_shift_inside_the_noise_is_not_flagged(tmp_path, run_doc):
    """Median up 13% (over the 10% threshold) but the samples overlap: noise, not a regression."""
    name = "perf/test_lbfgs_perf.py::test_steady[rosenbrock-100-scipy]"
    base, cur = copy.deepcopy(run_doc), copy.deepcopy(run_doc)
    set_samples(base, name, [0.10, 0.12, 0.14, 0.16, 0.18])
    set_samples(cur, name, [0.10, 0.12, 0.158, 0.16, 0.18])
    cmp = compare_runs(load_run(write(tmp_path, "b.json", base)), load_run(write(tmp_path, "c.json", cur)))
    assert bench(cur, name)["stats"]["median"] / bench(base, name)["stats"]["median"] > 1.10
    assert cmp.regressions == []
    # The same shift with every sample moved is flagged: the rule is not simply "never".
    set_samples(cur, name, [0.19, 0.20, 0.21, 0.22, 0.23])
    cmp = compare_runs(load_run(write(tmp_path, "b.json", base)), load_run(write(tmp_path, "c.json", cur)))
    assert [f.benchmark for f in cmp.regressions] == [name]


def test_a_faster_benchmark_is_an_improvement(tmp_path, capsys, run_doc):
    current = write(tmp_path, "cur.json", scale_time(run_doc, SLOWED, 0.5))
    assert main(["check-regressions", str(DATA), current]) == 0
    improvements = capsys.readouterr().out.split("## Improvements")[1]
    assert f"`{SLOWED}` | time |" in improvements and "0.50x" in improvements


def test_iterations_up_20_percent_is_a_quality_regression(tmp_path, capsys, run_doc):
    doc = copy.deepcopy(run_doc)
    info = bench(doc, SLOWED)["extra_info"]
    info["n_iter"] = round(info["n_iter"] * 1.2)
    assert main(["check-regressions", str(DATA), write(tmp_path, "cur.json", doc)]) == 1
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | n_iter | 505 | 606 | 1.20x" in out


def test_convergence_lost_and_worse_gradient_are_quality_regressions(tmp_path, run_doc):
    doc = copy.deepcopy(run_doc)
    info = bench(doc, SLOWED)["extra_info"]
    info["converged"] = False
    info["grad_inf_norm"] = info["grad_inf_norm"] * 100
    info["final_loss"] = None  # NaN is stored as null
    cmp = compare_runs(load_run(str(DATA)), load_run(write(tmp_path, "c.json", doc)))
    kinds = sorted(f.kind for f in cmp.regressions)
    assert kinds == ["converged", "final_loss", "grad_inf_norm"]


def test_version_change_is_stated_at_the_top(tmp_path, capsys, run_doc):
    doc = copy.deepcopy(run_doc)
    for b in doc["benchmarks"]:
        b["extra_info"]["versions"]["optax"] = "0.2.4"
    main(["check-regressions", str(DATA), write(tmp_path, "cur.json", doc)])
    out = capsys.readouterr().out
    assert out.splitlines()[2] == "**Library versions changed between the runs:** optax 0.2.8 -> 0.2.4."


def test_a_missing_benchmark_is_a_regression_and_a_new_one_is_listed(tmp_path, capsys, run_doc):
    doc = copy.deepcopy(run_doc)
    gone = doc["benchmarks"].pop(0)
    extra = copy.deepcopy(doc["benchmarks"][0])
    extra["fullname"] = extra["fullname"].replace("rosenbrock-100", "rosenbrock-1000")
    doc["benchmarks"].append(extra)
    current = write(tmp_path, "cur.json", doc)
    assert main(["check-regressions", str(DATA), current]) == 2  # nothing of it was compared tonight
    out = capsys.readouterr().out
    assert f"| `{gone['fullname']}` | not run | none | none | - |" in out
    assert "**Not comparable.** **1 signal(s) not compared** (not run): this is not a pass." in out
    assert "not compared for 1 benchmark(s) missing from the current run" in out
    assert (
        "## Missing from the current run\n\nEach is a regression above" in out
        and f"- `{gone['fullname']}`" in out
    )
    assert f"## New in the current run\n\n- `{extra['fullname']}`" in out
    # a removal on purpose: listed, not alerted
    assert main(["check-regressions", str(DATA), current, "--allow-missing"]) == 0
    out = capsys.readouterr().out
    assert "Accepted as removed (--allow-missing)" in out and f"- `{gone['fullname']}`" in out
    assert "(accepted: --allow-missing)" in out


def test_a_missing_benchmark_is_not_called_an_exact_figure_by_the_confirmation(tmp_path, run_doc):
    from lbfgs_impl.tracking.confirm import confirm_time_regressions

    doc = copy.deepcopy(run_doc)
    doc["benchmarks"].pop(0)
    cmp = compare_runs(load_run(str(DATA)), load_run(write(tmp_path, "cur.json", doc)))
    # no time finding: nothing is re-run, each regression only says why it was not
    confirm_time_regressions(cmp, repo=tmp_path, baseline_rev="a", current_rev="b")
    (gone,) = [f for f in cmp.regressions if f.kind == "not run"]
    assert gone.confirmation == "nothing measured tonight to re-run"


def test_report_sections_in_order(capsys):
    main(["check-regressions", str(DATA), str(DATA)])
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line.startswith("## ")]
    assert sections == ["## Signals", "## Regressions", "## Improvements", "## Machines and versions"]
    assert "| optax | 0.2.8 | 0.2.8 |" in out and "| cpu |" in out and "| pinning |" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, tmp: str(tmp / "nope.json"), "nope.json: no such file"),
        (lambda d, tmp: write(tmp, "trunc.json", d)[:0] or _truncated(tmp, d), "not valid JSON"),
        (lambda d, tmp: write(tmp, "other.json", {"results": []}), "not a pytest-benchmark result file"),
        (lambda d, tmp: write(tmp, "disjoint.json", _renamed(d)), "no benchmark in common"),
    ],
    ids=["missing", "corrupted", "not-pytest-benchmark", "nothing-in-common"],
)
def test_data_errors_exit_2_with_one_line(tmp_path, capsys, run_doc, make, message):
    other = make(run_doc, tmp_path)
    assert main(["check-regressions", str(DATA), other]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _truncated(tmp: Path, doc: dict) -> str:
    path = tmp / "trunc.json"
    path.write_text(json.dumps(doc)[:5000])
    return str(path)


def _renamed(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    for b in doc["benchmarks"]:
        b["fullname"] = "other::" + b["fullname"]
    return doc


def test_bad_options_exit_2(capsys):
    assert main(["check-regressions", str(DATA), str(DATA), "--threshold", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


# ------------------------------------------------------------------ instruction counts


def with_instructions(doc: dict, *, spread: float = 0.002, scale: dict[str, float] | None = None) -> dict:
    """A copy where every steady benchmark carries instruction counts, some scaled by a factor."""
    doc = copy.deepcopy(doc)
    for i, b in enumerate(doc["benchmarks"]):
        if "test_steady" in b["fullname"]:
            base = 1e6 * (10 + i)
            b["extra_info"]["instructions"] = base * (scale or {}).get(b["fullname"], 1.0)
            b["extra_info"]["instructions_spread"] = spread
            b["extra_info"]["instructions_thread_pool_share"] = 0.25
            b["extra_info"]["instructions_meta"] = dict(META)
    return doc


def kinds(comparison) -> list[tuple[str, str]]:
    return [(f.benchmark, f.kind) for f in comparison.regressions]


@pytest.mark.parametrize(
    ("factor", "spread", "flagged"),
    [
        (1.10, 0.002, True),  # +10%: above the limit, 0.6% = 3 x 0.2%
        (1.01, 0.002, True),  # +1%: above it, spread small
        (1.005, 0.002, False),  # +0.5%: below it
        (1.004, 0.0005, False),  # +0.4% with a 0.05% spread: below the 0.5% floor
        (1.006, 0.0005, True),  # +0.6%: above the floor
        (1.04, 0.02, False),  # +4% with a 2% spread: threshold 6%
        (1.07, 0.02, True),  # +7% with a 2% spread
    ],
)
def test_instruction_threshold_follows_the_spread(tmp_path, run_doc, factor, spread, flagged):
    base = load_run(write(tmp_path, "b.json", with_instructions(run_doc, spread=spread)))
    cur_doc = with_instructions(run_doc, spread=spread, scale={SLOWED: factor})
    cur = load_run(write(tmp_path, "c.json", cur_doc))
    cmp = compare_runs(base, cur)
    assert cmp.instructions_compared == 6
    assert kinds(cmp) == ([(SLOWED, "instructions")] if flagged else [])


def test_instruction_regression_exits_1_and_names_the_signal(tmp_path, run_doc, capsys):
    base = write(tmp_path, "b.json", with_instructions(run_doc))
    cur = write(tmp_path, "c.json", with_instructions(run_doc, scale={SLOWED: 1.25}))
    assert main(["check-regressions", base, cur]) == 1
    out = capsys.readouterr().out
    assert "Signals that fired: instructions." in out
    assert "instructions +25.0% > limit 0.6% = 3 x the baseline's spread" in out
    assert "| instructions | compared for 6 of 6 benchmark(s)" in out


def test_a_baseline_from_another_machine_compares_instructions_not_time(tmp_path, run_doc, capsys):
    base_doc = with_instructions(run_doc)
    base_doc["machine_info"]["cpu"]["brand_raw"] = "Intel(R) Xeon(R) Processor"
    # Every wall time 3x slower, instructions 10% up in one benchmark: only the latter may alert.
    cur_doc = with_instructions(scale_time(run_doc, SLOWED, 3.0), scale={SLOWED: 1.10})
    base, cur = write(tmp_path, "b.json", base_doc), write(tmp_path, "c.json", cur_doc)
    cmp = compare_runs(load_run(base), load_run(cur))
    assert cmp.time_compared is False
    assert kinds(cmp) == [(SLOWED, "instructions")]
    assert main(["check-regressions", base, cur]) == 1
    out = capsys.readouterr().out
    assert "| wall time | not compared: no wall-time baseline for this machine (AMD EPYC" in out
    assert "Intel(R) Xeon(R) Processor, 2 logical CPUs" in out and "AMD EPYC, 2 logical CPUs" in out


def test_same_machine_still_compares_time_beside_instructions(tmp_path, run_doc):
    base = load_run(write(tmp_path, "b.json", with_instructions(run_doc)))
    cur = load_run(write(tmp_path, "c.json", with_instructions(scale_time(run_doc, SLOWED, 3.0))))
    cmp = compare_runs(base, cur)
    assert cmp.time_compared is True
    assert kinds(cmp) == [(SLOWED, "time")]


def test_the_command_lines_defaults_are_the_gates_own():
    """check-regressions without limit options applies :class:`Thresholds`' defaults (one source)."""
    from lbfgs_impl.cli import build_parser
    from lbfgs_impl.tracking.runs import Thresholds

    args = build_parser().parse_args(["check-regressions", "a.json", "b.json"])
    th = Thresholds()
    assert args.instructions_threshold == th.instructions and args.instructions_cap == th.instructions_cap
    assert args.threshold == th.threshold and args.count_tolerance == th.count_tolerance
