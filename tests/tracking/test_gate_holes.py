"""Holes in the gate, each reproduced with a doctored copy of a real perf file (tests/data/quick-run.json).

Exit codes: 0 nothing found, 1 a regression, 2 not comparable (or bad input), 3 an internal error.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from test_gate_trust import META, SLOWED, bench, check, clean, counted, scale_time, write

from lbfgs_impl.cli import main
from lbfgs_impl.tracking import confirm
from lbfgs_impl.tracking.confirm import ConfirmationError
from lbfgs_impl.tracking.regressions import compare_runs, load_run

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"


@pytest.fixture
def run_doc() -> dict:
    return json.loads(DATA.read_text())


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tiny_repo(tmp_path) -> tuple[Path, str, str]:
    """A scratch repository with two commits (nothing in it is ever run: the re-runs are replaced)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("b\n")
    git(repo, "commit", "-qam", "two")
    return repo, first, git(repo, "rev-parse", "HEAD")


def report_of(tmp_path: Path) -> str:
    return (tmp_path / "report.md").read_text()


# ------------------------------------------------------------------ 1. --confirm that cannot test the cause


def test_confirm_keeps_an_alert_when_only_python_differs_on_the_same_commit(
    tmp_path, capsys, run_doc, tiny_repo
):
    repo, _, head = tiny_repo
    base, cur = clean(run_doc, head), clean(scale_time(run_doc, 1.5), head)
    cur["machine_info"]["python_version"] = "3.12.1"
    rc = check(tmp_path, base, cur, "--confirm", "--repo", str(repo), "--report", str(tmp_path / "report.md"))
    assert rc == 1
    out = capsys.readouterr().out
    regressions = out.split("## Regressions")[1].split("## Improvements")[0]
    assert f"`{SLOWED}` | time |" in regressions
    assert "python 3.11.7 -> 3.12.1" in regressions and "kept" in regressions


def test_confirm_keeps_an_alert_when_the_old_library_cannot_be_installed(
    tmp_path, capsys, run_doc, tiny_repo, monkeypatch
):
    repo, _, head = tiny_repo
    base, cur = clean(run_doc, head), clean(scale_time(run_doc, 1.5), head)
    for b in cur["benchmarks"]:
        b["extra_info"]["versions"]["jaxlib"] = "0.10.3"

    def no_index(*args, **kwargs):
        raise ConfirmationError("pip install jaxlib==0.10.2 failed: no index")

    monkeypatch.setattr(confirm, "make_env_with", no_index)
    # were the sides re-run, both would run the current jaxlib: the same speed
    monkeypatch.setattr(confirm, "rerun_benchmarks", lambda *a, **k: ({SLOWED: 1.0}, {}, None))
    assert check(tmp_path, base, cur, "--confirm", "--repo", str(repo), "--confirm-rounds", "1") == 1
    regressions = capsys.readouterr().out.split("## Regressions")[1].split("## Improvements")[0]
    assert f"`{SLOWED}` | time |" in regressions and "could not recreate" in regressions


# ------------------------------------------------------------------ 2, 3, 7. the counting environment


@pytest.mark.parametrize("factor", [1.0, 1.2])
def test_each_benchmarks_valgrind_version_is_read(tmp_path, capsys, run_doc, factor):
    cur = counted(run_doc)
    info = bench(cur, SLOWED)["extra_info"]
    info["instructions_meta"] = {**META, "valgrind": "valgrind-3.22.0"}
    info["instructions"] *= factor
    assert check(tmp_path, counted(run_doc), cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | instructions not compared |" in out
    assert "not compared (valgrind valgrind-3.19.0 vs valgrind-3.22.0)" in out
    assert f"`{SLOWED}` | instructions |" not in out


def test_counts_without_a_recorded_valgrind_are_not_compared(tmp_path, capsys, run_doc):
    cur = counted(run_doc)
    for b in cur["benchmarks"]:
        b["extra_info"].pop("instructions_meta", None)
    assert check(tmp_path, counted(run_doc), cur) == 2
    out = capsys.readouterr().out
    assert "compared for 2 of 2" not in out and "compared for 6 of 6" not in out
    assert "valgrind not recorded by the current run" in out


def test_an_architecture_change_is_read_from_machine_info_when_the_baseline_predates_the_field(
    tmp_path, capsys, run_doc
):
    base = counted(run_doc)
    for b in base["benchmarks"]:
        if "instructions_meta" in b["extra_info"]:
            del b["extra_info"]["instructions_meta"]["arch"]
    cur = counted(run_doc)
    cur["machine_info"]["machine"] = "aarch64"
    for b in cur["benchmarks"]:
        if "instructions_meta" in b["extra_info"]:
            b["extra_info"]["instructions_meta"]["arch"] = "aarch64"
    assert check(tmp_path, base, cur) == 2
    assert "not compared (architecture x86_64 vs aarch64)" in capsys.readouterr().out


# ------------------------------------------------------------------ 4. a partial re-count


def test_a_partial_re_count_never_falls_back_to_the_old_counts(tmp_path, run_doc):
    base = counted(run_doc)
    newer = {**META, "valgrind": "valgrind-3.22.0"}
    cur, recount = counted(run_doc), counted(run_doc)
    for doc in (cur, recount):
        for b in doc["benchmarks"]:
            if "instructions_meta" in b["extra_info"]:
                b["extra_info"]["instructions_meta"] = dict(newer)
    bench(cur, SLOWED)["extra_info"]["instructions"] *= 1.2
    recount["benchmarks"] = [b for b in recount["benchmarks"] if b["fullname"] != SLOWED]
    cmp = compare_runs(
        load_run(write(tmp_path, "b.json", base)),
        load_run(write(tmp_path, "c.json", cur)),
        instruction_baseline=load_run(write(tmp_path, "r.json", recount)),
    )
    found = [(f.benchmark, f.kind) for f in cmp.regressions]
    assert found == [(SLOWED, "instructions not compared")]
    assert "re-count" in cmp.regressions[0].rule and cmp.exit_code() == 2


# ------------------------------------------------------------------ 5. the thread-pool share


@pytest.mark.parametrize("value", ["absent", None, float("nan")], ids=["missing", "null", "nan"])
def test_a_share_that_is_not_a_number_is_not_compared_and_says_so(tmp_path, capsys, run_doc, value):
    cur = counted(run_doc)
    info = bench(cur, SLOWED)["extra_info"]
    if value == "absent":
        del info["instructions_thread_pool_share"]
    else:
        info["instructions_thread_pool_share"] = value
    assert check(tmp_path, counted(run_doc), cur) == 2
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | thread-pool share not measured |" in out


def test_a_noisy_baseline_share_cannot_widen_the_band_beyond_its_cap(tmp_path, capsys, run_doc):
    base = counted(run_doc, instructions_thread_pool_share_samples=[0.0, 0.25, 0.30])
    cur = counted(
        run_doc, instructions_thread_pool_share=0.60, instructions_thread_pool_share_samples=[0.6] * 3
    )
    assert check(tmp_path, base, cur) == 1
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | thread-pool share | 25.00% | 60.00% |" in out and "band 10.0%" in out


# ------------------------------------------------------------------ 6. wall time


def test_benchmarks_missing_from_the_time_baseline_are_named_not_called_compared(tmp_path, capsys, run_doc):
    time_base = copy.deepcopy(run_doc)
    time_base["benchmarks"] = [b for b in time_base["benchmarks"] if b["fullname"] != SLOWED]
    slower = scale_time(run_doc, 1.5)
    tb = write(tmp_path, "t.json", time_base)
    check(tmp_path, run_doc, slower, "--time-baseline", tb)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("| wall time |"))
    assert "compared for 11 of 12 benchmark(s)" in line
    assert f"not compared for 1 absent from the wall-time baseline: `{SLOWED}`" in line


# ------------------------------------------------------------------ 8. quality


@pytest.mark.parametrize(
    ("key", "value", "rc", "kind"),
    [
        ("n_iter", 5000.0, 1, "n_iter"),
        ("n_iter", None, 2, "quality not measured"),
        ("final_loss", float("nan"), 1, "final_loss"),
        ("grad_inf_norm", float("nan"), 1, "grad_inf_norm"),
        ("converged", None, 2, "quality not measured"),
        ("converged", "false", 2, "quality not measured"),
    ],
)
def test_quality_is_never_skipped_silently(tmp_path, capsys, run_doc, key, value, rc, kind):
    cur = copy.deepcopy(run_doc)
    bench(cur, SLOWED)["extra_info"][key] = value
    assert check(tmp_path, run_doc, cur) == rc
    assert f"`{SLOWED}` | {kind} |" in capsys.readouterr().out


def test_a_plain_pytest_benchmark_baseline_does_not_pass_quality(tmp_path, capsys, run_doc):
    plain = copy.deepcopy(run_doc)
    for b in plain["benchmarks"]:
        b["extra_info"] = {}
    assert check(tmp_path, plain, run_doc) == 2
    out = capsys.readouterr().out
    assert "| quality | not compared for 12 of 12 benchmark(s)" in out


# ------------------------------------------------------------------ 9. duplicate names


def test_a_duplicate_benchmark_name_is_bad_input(tmp_path, capsys, run_doc):
    cur = copy.deepcopy(run_doc)
    first = copy.deepcopy(bench(cur, SLOWED))
    first["extra_info"]["n_iter"] = int(first["extra_info"]["n_iter"] * 1.3)
    cur["benchmarks"].insert(0, first)
    assert check(tmp_path, run_doc, cur) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "twice" in err[0] and SLOWED in err[0]


# ------------------------------------------------------------------ 10. the re-runs' grid


def test_confirmation_re_runs_use_the_nightlys_perf_size(tmp_path, run_doc, tiny_repo, monkeypatch):
    repo, first, head = tiny_repo
    seen: list[dict] = []

    def fake(worktree, node_ids, out, **kwargs):
        seen.append(kwargs)
        return {SLOWED: 1.0}, {}, None

    monkeypatch.setattr(confirm, "rerun_benchmarks", fake)
    base, cur = clean(run_doc, first), clean(scale_time(run_doc, 1.5), head)
    args = ("--confirm", "--repo", str(repo), "--confirm-rounds", "1", "--perf-size", "mgh")
    check(tmp_path, base, cur, *args)
    assert seen and {k.get("size") for k in seen} == {"mgh"}


def test_rerun_benchmarks_passes_the_size_to_pytest(tmp_path):
    argv_file = tmp_path / "argv"
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/bin/sh\necho "$@" > {argv_file}\n')
    fake_python.chmod(0o755)
    confirm.rerun_benchmarks(tmp_path, [SLOWED], tmp_path / "o.json", python=str(fake_python), size="mgh")
    assert "--perf-size mgh" in argv_file.read_text()


# ------------------------------------------------------------------ 11. crashes and stale reports


def test_a_crash_exits_3_and_never_leaves_a_stale_report(tmp_path, capsys, run_doc, monkeypatch):
    from lbfgs_impl.tracking import regressions

    report = tmp_path / "report.md"
    report.write_text("**No regressions.** 12 benchmark(s) compared.\n")

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(regressions, "compare_runs", boom)
    assert check(tmp_path, run_doc, run_doc, "--report", str(report)) == 3
    assert "No regressions" not in report.read_text() and "internal error" in report.read_text()
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_bad_input_rewrites_the_report_before_exiting_2(tmp_path, capsys, run_doc):
    report = tmp_path / "report.md"
    report.write_text("**No regressions.** 12 benchmark(s) compared.\n")
    argv = ["check-regressions", write(tmp_path, "b.json", run_doc), str(tmp_path / "nope.json")]
    assert main([*argv, "--report", str(report)]) == 2
    text = report.read_text()
    assert "No regressions" not in text and "nope.json: no such file" in text


def test_the_machine_table_lists_every_valgrind_the_counts_came_from(tmp_path, capsys, run_doc):
    cur = counted(run_doc)
    bench(cur, SLOWED)["extra_info"]["instructions_meta"] = {**META, "valgrind": "valgrind-3.22.0"}
    check(tmp_path, counted(run_doc), cur)
    out = capsys.readouterr().out
    assert "| valgrind | valgrind-3.19.0 | valgrind-3.19.0 / valgrind-3.22.0 |" in out
    assert (
        "| valgrind flags | --tool=callgrind --instr-atstart=no | --tool=callgrind --instr-atstart=no |"
        in out
    )
