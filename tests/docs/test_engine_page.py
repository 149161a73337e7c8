"""The engine page takes every figure from its data: CPU per sample, steps, per-solver medians."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _generators_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "docs_pages"))


def _engine():
    spec = importlib.util.spec_from_file_location(
        "docs_pages_engine", ROOT / "scripts" / "docs_pages" / "engine.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(solver: str, count: int, n_iter: int, build_s: float) -> dict:
    seconds = {"build_s": build_s, "load_s": 1.0, "warm_up_s": 2.0, "counted_s": 3.0, "result_s": 0.5}
    return {"solver": solver, "problem": "p", "n": 2, "instructions": count, "n_iter": [n_iter],
            "instructions_per_iteration": count / n_iter, "errors": [],
            "processes": [{"seconds": seconds}]}  # fmt: skip


def test_every_figure_comes_from_the_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    doc = {
        "grid": "quick", "tasks": ["a", "b", "c"], "cpus": [0, 1], "repeats": 1, "scheduler": "none",
        "command": "python scripts/engine_timing.py out.json --grid quick",
        "machine": {"cpu": "Test CPU", "cpu_count": 2, "versions": {"jax": "9.9"}, "python": "3.11.7"},
        "wall_s": 123.4, "cpu_s": 77.0, "cpu_s_per_sample": 25.67, "load_before": [1.0, 2.0, 3.0],
        "load_after": [4.0, 5.0, 6.0], "meta": {"environment": {"engine": "native-aot:AVX2"}},
        "results": [_row("scipy", 4_000_000, 20, 0.5), _row("scipy", 6_000_000, 30, 1.5),
                    {"solver": "optax_while", "problem": "p", "n": 2, "instructions": None,
                     "errors": ["boom"]}],
    }  # fmt: skip
    (data / "run.json").write_text(json.dumps(doc))
    (page,) = _engine().generate(data, tmp_path / "docs")
    text = page.read_text()
    assert "| 123 | 77 | 25.67 | 2 of 3 | 1 |" in text
    assert "| 1.00 | 1.00 | 2.00 | 3.00 | 0.50 |" in text  # median build 1.0 of 0.5 and 1.5
    assert "| scipy | 2 | 5.000 M | 200.0 k |" in text and "Test CPU" in text and "jax 9.9" in text
    assert "optax_while |" not in text  # a task without a count is not a solver's median
    assert "Measured by `python scripts/engine_timing.py out.json --grid quick`." in text


def test_without_data_the_page_says_how_to_measure(tmp_path):
    (page,) = _engine().generate(tmp_path / "absent", tmp_path / "docs")
    assert "No measurement is committed yet" in page.read_text()


def test_counts_of_two_engines_are_set_side_by_side_per_task(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    base = {"grid": "quick", "cpus": [0], "repeats": 1, "scheduler": "none", "machine": {}, "wall_s": 1.0,
            "cpu_s": 1.0, "cpu_s_per_sample": 1.0, "load_before": [0, 0, 0],
            "load_after": [0, 0, 0]}  # fmt: skip
    old = {**base, "tasks": ["a"], "meta": {}, "results": [_row("scipy", 2_000_000, 20, 0.5)]}
    new = {**base, "tasks": ["a"], "meta": {"engine": "native-aot:AVX2"}}
    new["results"] = [_row("scipy", 1_000_000, 20, 0.5)]
    (data / "old.json").write_text(json.dumps(old))
    (data / "new.json").write_text(json.dumps(new))
    (page,) = _engine().generate(data, tmp_path / "docs")
    text = page.read_text()
    assert "## old (in-valgrind)" in text and "## new (native-aot:AVX2)" in text
    assert "| scipy/p-2 | 2.000 M | 1.000 M | 0.500 | - |" in text and "median 0.500" in text


def test_a_whole_profile_run_is_shown_from_its_record(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    doc = {
        "kind": "profile", "command": "lbfgs-bench profile --instructions --scheduler none OUTDIR",
        "problems": 33, "solvers": ["a", "b", "c", "d", "e", "f", "g"], "tasks": 231,
        "instruction_phase_s": 924.0, "wall_s": 1950.2, "cpu_s": 3100.0, "tasks_counted": 229,
        "load_before": [1.5, 2.0, 4.0], "load_after": [2.0, 2.1, 2.2], "started": "S", "ended": "E",
        "machine": {"cpu": "Test CPU", "cpu_count": 2, "versions": {"jax": "9.9"}, "python": "3.11.7"},
        "meta": {"engine": "native-aot:AVX2",
                 "environment": {"valgrind": "valgrind-9", "valgrind_flags": ["--tool=callgrind", "--z"]}},
        "workers": 2, "scheduler": "none: the built-in pool",
    }  # fmt: skip
    (data / "mgh.json").write_text(json.dumps(doc))
    (page,) = _engine().generate(data, tmp_path / "docs")
    text = page.read_text()
    assert "| 231 | 229 | 2 | 924 | 4.00 | 1950 | 3100 |" in text and "(none: the built-in pool)" in text
    assert "33 problems x 7 solvers" in text and "valgrind-9" in text and "Test CPU" in text
    assert "against the earlier engine" not in text  # a profile record holds no per-task counts
    assert "valgrind's flags: `--tool=callgrind --z`." in text


def test_repeated_counts_show_each_tasks_spread_largest_first(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for name, samples in (("a", [1000, 1001, 1002]), ("b", [2000, 2000, 2000]), ("c", [500, 505, 501])):
        row = _row(name, sorted(samples)[1], 10, 1.0)
        row.update(
            instructions_samples=samples,
            instructions_spread=(max(samples) - min(samples)) / row["instructions"],
        )
        rows.append(row)
    doc = {"grid": "perf-quick", "tasks": ["a", "b", "c"], "cpus": [0, 1], "repeats": 3, "scheduler": "none",
           "machine": {}, "wall_s": 1.0, "cpu_s": 1.0, "cpu_s_per_sample": 1.0, "load_before": [0, 0, 0],
           "load_after": [0, 0, 0], "meta": {}, "results": rows}  # fmt: skip
    (data / "spread.json").write_text(json.dumps(doc))
    (page,) = _engine().generate(data, tmp_path / "docs")
    text = page.read_text()
    assert "largest 0.998%, median 0.200%" in text  # c: 5/501; a: 2/1001; b: 0
    table = text.split("| task | processes | median instructions | spread |")[1]
    assert table.index("| c/p-2 | 3 |") < table.index("| a/p-2 | 3 |") < table.index("| b/p-2 | 3 |")
    assert "| b/p-2 | 3 | 0.002 M | 0.000% |" in table


def _spread_doc(rows: list[dict]) -> dict:
    return {"grid": "perf-quick", "tasks": [r["solver"] for r in rows], "cpus": [0, 1], "repeats": 3,
            "scheduler": "none", "machine": {}, "wall_s": 1.0, "cpu_s": 1.0, "cpu_s_per_sample": 1.0,
            "load_before": [0, 0, 0], "load_after": [0, 0, 0], "meta": {}, "results": rows}  # fmt: skip


def test_a_task_counted_once_or_without_a_spread_has_no_spread_figure(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    twice = _row("a", 1000, 10, 1.0) | {"instructions_samples": [990, 1000, 1010]}
    twice["instructions_spread"] = 0.02
    once = _row("b", 2000, 10, 1.0) | {"instructions_samples": [2000], "instructions_spread": 0.0}
    unread = _row("c", 3000, 10, 1.0) | {"instructions_samples": [2990, 3000, 3010]}  # no spread recorded
    once["errors"] = ["repeat 1: timed out", "repeat 2: timed out"]
    (data / "spread.json").write_text(json.dumps(_spread_doc([twice, once, unread])))
    (page,) = _engine().generate(data, tmp_path / "docs")
    text = page.read_text()
    # one process has no spread: its 0 is not a figure, nor part of the median
    assert "largest 2.000%, median 2.000% (1 task counted more than once)" in text
    assert "| b/p-2 | 1 | 0.002 M | - |" in text and "| c/p-2 | 3 | 0.003 M | - |" in text
    assert "| a/p-2 | 3 | 0.001 M | 2.000% |" in text


def test_repeats_where_no_task_was_counted_still_make_a_page(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    failed = {"solver": "a", "problem": "p", "n": 2, "instructions": None, "errors": ["boom"] * 3}
    (data / "spread.json").write_text(json.dumps(_spread_doc([failed])))
    (page,) = _engine().generate(data, tmp_path / "docs")
    assert "| 1 | 1 | 1.00 | 0 of 1 | 1 |" in page.read_text()


@pytest.mark.parametrize(
    ("pinning", "said"),
    [
        ({"pinned": True, "cpus": [0], "cpus_before": [0, 1]}, "pinned to CPU 0, CPU 1 left to nothing else"),
        ({"pinned": True, "cpus": [3], "cpus_before": [3]}, "(pinned to CPU 3), then"),
        ({"pinned": False}, "(not pinned), then"),
    ],
)
def test_where_a_profile_run_timed_is_read_from_its_pinning(pinning, said):
    doc = {"kind": "profile", "command": "c", "problems": 1, "solvers": ["a"], "tasks": 1,
           "instruction_phase_s": 1.0, "wall_s": 2.0, "cpu_s": 2.0, "tasks_counted": 1,
           "load_before": [0, 0, 0], "load_after": [0, 0, 0], "started": "S", "ended": "E",
           "machine": {"pinning": pinning}, "meta": {}}  # fmt: skip
    assert said in "\n".join(_engine()._profile_section("run", doc))


def test_two_runs_of_one_grid_and_engine_are_compared_task_by_task(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    base = {"grid": "mgh", "cpus": [0], "repeats": 1, "scheduler": "none", "machine": {}, "wall_s": 1.0,
            "cpu_s": 1.0, "cpu_s_per_sample": 1.0, "load_before": [0, 0, 0], "load_after": [0, 0, 0],
            "meta": {"engine": "native-aot:AVX2", "valgrind_flags": ["--tool=callgrind", "--x"]},
            "tasks": ["a", "b", "c"]}  # fmt: skip

    def rows(counts):
        out = []
        for solver, count in counts.items():
            row = _row(solver, count, 10, 1.0)
            row["n_iter"] = [10]
            out.append(row)
        return out

    (data / "one.json").write_text(json.dumps({**base, "results": rows({"a": 1000, "b": 2000, "c": 4000})}))
    two = rows({"a": 1001, "b": 2200, "c": 4000})
    two[2]["n_iter"] = [11]  # another path: not compared
    (data / "two.json").write_text(json.dumps({**base, "scheduler": "local", "results": two}))
    (data / "other.json").write_text(
        json.dumps({**base, "grid": "quick", "results": rows({"a": 9000, "b": 1})})
    )
    text = _engine().generate(data, tmp_path / "docs")[0].read_text()
    assert "## `one` and `two`: the same tasks counted twice" in text
    assert "2 task(s) counted by both with the same iterations" in text and "1 of 2 within 0.2%" in text
    table = text.split("## `one` and `two`")[1]
    assert table.index("| b/p-2 |") < table.index("| a/p-2 |") and "| c/p-2 |" not in table
    assert "and `other`" not in text and "`other` and" not in text  # another grid: never set beside them
    assert "valgrind's flags: `--tool=callgrind --x`." in text


def _two_task_run(path: Path, meta: dict) -> None:
    """A one-sample run of two tasks (a: 1,000 and b: 2,000 instructions, 10 iterations) with ``meta``."""
    base = {"grid": "mgh", "cpus": [0], "repeats": 1, "scheduler": "none", "machine": {}, "wall_s": 1.0,
            "cpu_s": 1.0, "cpu_s_per_sample": 1.0, "load_before": [0, 0, 0], "load_after": [0, 0, 0],
            "tasks": ["a", "b"]}  # fmt: skip
    rows = [{**_row(s, c, 10, 1.0), "n_iter": [10]} for s, c in (("a", 1000), ("b", 2000))]
    path.write_text(json.dumps({**base, "meta": meta, "results": rows}))


@pytest.mark.parametrize("flags", [["--tool=callgrind", "--y"], None])
def test_runs_counted_with_other_or_unrecorded_valgrind_flags_are_never_compared(tmp_path, flags):
    """Another flag (a function left out of the count) moves every count: a step, not disagreement."""
    data = tmp_path / "data"
    data.mkdir()
    meta = {"engine": "native-aot:AVX2", "valgrind_flags": ["--tool=callgrind", "--x"]}
    _two_task_run(data / "one.json", meta)
    _two_task_run(
        data / "two.json", {"engine": "native-aot:AVX2", **({"valgrind_flags": flags} if flags else {})}
    )
    text = _engine().generate(data, tmp_path / "docs")[0].read_text()
    assert "counted twice" not in text


def test_the_flags_are_those_the_counting_processes_reported_not_the_writers():
    """A resumed run or a cluster's workers count with their own code: the file's writer's flags (beside
    the counts) say nothing of them where the counting processes reported their own."""
    engine = _engine()
    doc = {"meta": {"valgrind_flags": ["--tool=callgrind", "--new"],
                    "environment": {"valgrind_flags": ["--tool=callgrind", "--old"]}}}  # fmt: skip
    assert engine.flags_of(doc) == ("--tool=callgrind", "--old")
    writer = ["--tool=callgrind", "--new"]
    unreported = {"meta": {"valgrind_flags": writer, "environment": {"arch": "x86_64"}}}
    assert engine.flags_of(unreported) == ()
    earlier = {"meta": {"valgrind_flags": ["--tool=callgrind", "--x"]}}  # counted by the file's writer
    assert engine.flags_of(earlier) == ("--tool=callgrind", "--x")


def test_processes_that_reported_several_flag_sets_have_no_flags_and_are_never_compared(tmp_path):
    """report_environment joins values the processes differ on with " / ": a string, never flags (nor its
    characters), and such a run is never set beside another as agreement."""
    engine = _engine()
    mixed = "['--tool=callgrind', '--x'] / ['--tool=callgrind', '--y']"
    assert engine.flags_of({"meta": {"environment": {"valgrind_flags": mixed}}}) == ()
    data = tmp_path / "data"
    data.mkdir()
    meta = {"engine": "native-aot:AVX2", "environment": {"valgrind_flags": mixed}}
    for name in ("one", "two"):
        _two_task_run(data / f"{name}.json", meta)
    text = engine.generate(data, tmp_path / "docs")[0].read_text()
    assert "counted twice" not in text
    assert f"valgrind's flags differed between the counting processes: `{mixed}`." in text


def test_counts_of_one_engine_with_other_flags_are_never_merged_against_the_earlier_engine(tmp_path):
    """Two runs of one engine with other flags cover the same tasks: each is set against the earlier
    engine on its own, named, never the later file's count silently standing in for the other's."""
    data = tmp_path / "data"
    data.mkdir()
    base = {"grid": "quick", "cpus": [0], "repeats": 1, "scheduler": "none", "machine": {}, "wall_s": 1.0,
            "cpu_s": 1.0, "cpu_s_per_sample": 1.0, "load_before": [0, 0, 0], "load_after": [0, 0, 0],
            "tasks": ["a"]}  # fmt: skip

    def run(meta, count):
        return json.dumps({**base, "meta": meta, "results": [_row("a", count, 10, 1.0)]})

    (data / "early.json").write_text(run({"valgrind_flags": ["--tool=callgrind"]}, 1000))
    (data / "one.json").write_text(run({"engine": "native-aot:AVX2", "valgrind_flags": ["--x"]}, 800))
    (data / "two.json").write_text(run({"engine": "native-aot:AVX2", "valgrind_flags": ["--y"]}, 700))
    text = _engine().generate(data, tmp_path / "docs")[0].read_text()
    sections = text.split("## Counts of `native-aot:AVX2` against the earlier engine")[1:]
    assert len(sections) == 2
    assert "Counts of `one` (valgrind's flags `--x`) against `early`." in sections[0]
    assert "| a/p-2 | 0.001 M | 0.001 M | 0.800 |" in sections[0]
    assert "Counts of `two` (valgrind's flags `--y`) against `early`." in sections[1]
    assert "| a/p-2 | 0.001 M | 0.001 M | 0.700 |" in sections[1]


def test_the_recorded_command_reads_back_as_the_arguments_given():
    """engine_timing records its command for the page: an output path with a space must stay one argument."""
    import shlex

    spec = importlib.util.spec_from_file_location("engine_timing", ROOT / "scripts" / "engine_timing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["my runs/quick.json", "--grid", "quick", "--solvers", "scipy,optax_while"]
    command = module.command_of(argv)
    assert shlex.split(command) == ["python", "scripts/engine_timing.py", *argv]
