"""Another counting engine is a one-time step in the counts: said in one line, not compared, not alerted."""

from __future__ import annotations

import pytest

from lbfgs_impl.tracking.runs import is_count
from tests.tracking.test_gate_trust import SLOWED, check, counted, run_doc  # noqa: F401  (fixture)


def _with_engine(doc: dict, engine: str | None) -> dict:
    for b in doc["benchmarks"]:
        meta = b["extra_info"].get("instructions_meta")
        if meta is not None and engine is not None:
            meta["engine"] = engine
    return doc


@pytest.mark.parametrize("base_engine", [None, "in-valgrind"])  # None: recorded before engines were
def test_another_engine_is_not_compared_and_not_alerted(tmp_path, capsys, run_doc, base_engine):  # noqa: F811
    base = _with_engine(counted(run_doc), base_engine)
    # the current run's counts are 30% higher: with one engine this is a finding (exit 1)
    cur = _with_engine(counted(run_doc, instructions=1.3 * 1e6 * 10), "native-aot:AVX2")
    assert check(tmp_path, base, cur) == 0
    out = capsys.readouterr().out
    assert "engine changed (counting engine in-valgrind vs native-aot:AVX2)" in out
    assert "not alerted" in out and f"`{SLOWED}` | instructions" not in out
    counted_benchmarks = sum(is_count(b["extra_info"].get("instructions")) for b in cur["benchmarks"])
    assert counted_benchmarks > 1
    assert f"counts not compared for {counted_benchmarks} benchmark(s)" in out  # every one, not 0


def test_a_mix_of_engines_names_the_benchmarks_it_did_not_compare(tmp_path, capsys, run_doc):  # noqa: F811
    base = _with_engine(counted(run_doc), "native-aot:AVX2")
    cur = _with_engine(counted(run_doc), "native-aot:AVX2")
    counted_names = [b for b in base["benchmarks"] if is_count(b["extra_info"].get("instructions"))]
    counted_names[0]["extra_info"]["instructions_meta"]["engine"] = "in-valgrind"  # one counted the old way
    assert check(tmp_path, base, cur) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("| instructions |"))
    # of every benchmark with counts on both sides, as with any other that was not compared
    assert f"compared for {len(counted_names) - 1} of {len(counted_names)} benchmark(s)" in line
    assert (
        "not compared for 1 counted by another engine (counting engine in-valgrind vs native-aot:AVX2)"
        in line
    )


def test_the_same_engine_still_compares(tmp_path, capsys, run_doc):  # noqa: F811
    base = _with_engine(counted(run_doc), "native-aot:AVX2")
    cur = _with_engine(counted(run_doc, instructions=1.3 * 1e6 * 10), "native-aot:AVX2")
    assert check(tmp_path, base, cur) == 1
    assert f"`{SLOWED}` | instructions |" in capsys.readouterr().out


def _instruction_line(out: str) -> str:
    return next(row for row in out.splitlines() if row.startswith("| instructions |"))


@pytest.mark.parametrize("engine_first", [True, False], ids=["engine-first", "valgrind-first"])
def test_engine_and_valgrind_mismatches_are_both_counted_whatever_their_order(
    tmp_path,
    capsys,
    run_doc,  # noqa: F811
    engine_first,
):
    base = _with_engine(counted(run_doc), "native-aot:AVX2")
    cur = _with_engine(counted(run_doc), "native-aot:AVX2")
    steady = [b for b in base["benchmarks"] if is_count(b["extra_info"].get("instructions"))]
    half = len(steady) // 2
    assert half >= 1
    for i, b in enumerate(steady):  # half counted the old way, half under another valgrind
        if (i < half) == engine_first:
            b["extra_info"]["instructions_meta"]["engine"] = "in-valgrind"
        else:
            b["extra_info"]["instructions_meta"]["valgrind"] = "valgrind-3.22.0"
    stepped, other = (half, len(steady) - half) if engine_first else (len(steady) - half, half)
    assert check(tmp_path, base, cur) == 2  # the valgrind ones are findings: not comparable
    line = _instruction_line(capsys.readouterr().out)
    # the engine step is said, counted alone; the valgrind mismatches are never called "not alerted"
    step = "engine changed (counting engine in-valgrind vs native-aot:AVX2)"
    assert f"{step}: counts not compared for {stepped} benchmark(s), not alerted" in line
    valgrind = "(valgrind valgrind-3.22.0 vs valgrind-3.19.0)"
    assert f"not compared for {other} more {valgrind} (see the findings)" in line


def test_an_engine_step_beside_missing_counts_names_the_missing(tmp_path, capsys, run_doc):  # noqa: F811
    base = _with_engine(counted(run_doc), "native-aot:AVX2")
    cur = _with_engine(counted(run_doc), "native-aot:AVX2")
    steady = [b for b in base["benchmarks"] if is_count(b["extra_info"].get("instructions"))]
    now = [b for b in cur["benchmarks"] if is_count(b["extra_info"].get("instructions"))]
    half = len(steady) // 2
    for i, (b, c) in enumerate(zip(steady, now, strict=True)):
        if i < half:
            b["extra_info"]["instructions_meta"]["engine"] = "in-valgrind"
        else:
            c["extra_info"]["instructions"] = None  # tonight's count of it failed
    assert check(tmp_path, base, cur) == 2
    line = _instruction_line(capsys.readouterr().out)
    assert f"counts not compared for {half} benchmark(s), not alerted" in line
    assert f"not compared for {len(steady) - half} more (see the findings)" in line
