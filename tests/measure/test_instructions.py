"""Instruction counts under callgrind: real valgrind runs on tiny problems, and the skip paths."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from lbfgs_impl.measure.callgrind import Dump, read_dumps, self_cost_by_function
from lbfgs_impl.measure.instructions import (
    FIXED_ENV,
    InstructionTask,
    build_shim,
    measure_instructions,
    unavailable_reason,
)
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, solve

REASON = unavailable_reason()
needs_valgrind = pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")

TASKS = [InstructionTask("scipy", "quadratic", 5), InstructionTask("optax_while", "quadratic", 5)]
BROKEN = InstructionTask("no_such_solver", "quadratic", 5)


@pytest.fixture(scope="module")
def report():
    # one worker: the repeats run in order, each repeat in a process of its own
    return measure_instructions([*TASKS, BROKEN], repeats=2, cpus=sorted(os.sched_getaffinity(0))[:1])


@needs_valgrind
@pytest.mark.slow
def test_counts_every_task_in_every_repeat(report):
    assert report.skipped is None
    assert report.meta["valgrind"].startswith("valgrind-")
    assert report.meta["env"] == FIXED_ENV and report.meta["repeats"] == 2
    for task in TASKS:
        counts = report.counts[task.key]
        assert counts.errors == []
        assert len(counts.solve) == 2 and all(c > 10_000 for c in counts.solve)
        assert counts.spread == (max(counts.solve) - min(counts.solve)) / counts.median
        native = solve(task.solver, make_problem(task.problem, task.n), SolverConfig())
        assert counts.n_iter == [native.n_iter] * 2  # a tiny quadratic takes the same path under valgrind
        assert counts.per_iteration == pytest.approx(counts.median / native.n_iter)
        assert counts.converged == [True, True]
    # The whole Python + SciPy loop costs far more instructions than one compiled while_loop.
    assert report.counts[TASKS[0].key].median > report.counts[TASKS[1].key].median


@needs_valgrind
@pytest.mark.slow
def test_each_repeat_comes_from_another_process_and_records_its_environment(report):
    assert report.meta["engine"] == "native-aot:AVX2" and report.meta["target_isa"] == "AVX2"
    restarts = report.meta.get("worker_restarts", [])
    assert restarts == []  # a fresh counter per repeat is not a restart
    env = report.meta["environment"]
    assert env["on_valgrind"] is True and env["target_isa"] == "AVX2" and env["versions"]["jax"]
    assert env["glibc"].startswith("glibc") and env["engine"] == report.meta["engine"]
    for task in TASKS:
        assert report.counts[task.key].environment == env


@needs_valgrind
@pytest.mark.slow
def test_a_failing_task_is_recorded_not_raised(report):
    broken = report.counts[BROKEN.key]
    assert not broken.ok and len(broken.errors) == 2
    assert "unknown solver 'no_such_solver'" in broken.errors[0]
    assert broken.to_dict()["instructions"] is None


def test_missing_valgrind_skips_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no valgrind on PATH
    report = measure_instructions(TASKS)
    assert report.skipped == "valgrind is not installed (apt-get install valgrind)"
    assert all(not c.ok for c in report.counts.values())


@needs_valgrind
def test_missing_compiler_skips_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-cc"))
    report = measure_instructions(TASKS)
    assert report.skipped.startswith(f"could not build the callgrind helper with {tmp_path / 'no-cc'}")
    assert unavailable_reason() == report.skipped


@needs_valgrind
def test_helper_builds_and_reports_it_is_not_on_valgrind(tmp_path):
    import ctypes

    shim = ctypes.CDLL(str(build_shim(tmp_path)))
    assert shim.lbfgs_bench_running_on_valgrind() == 0
    shim.lbfgs_bench_start()  # no-ops outside valgrind
    shim.lbfgs_bench_stop(b"x")


def test_read_dumps_takes_client_request_dumps_and_separates_the_scheduler(tmp_path):
    (tmp_path / "callgrind.1.1").write_text(
        "version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: job0:solve\n"
        "events: Ir\nsummary: 0\n"
        "fn=(1) main\n0 100\ncfn=(2) Eigen::ThreadPoolTempl<tsl::Env>::MaybeGetTask(Task*)\ncalls=3 0\n0 70\n"
        "+1 5\nfn=(2)\n0 70\ntotals: 175\n"
    )
    (tmp_path / "callgrind.1").write_text("desc: Trigger: Program termination\nevents: Ir\ntotals: 0\n")
    dumps = read_dumps(tmp_path)
    assert list(dumps) == ["job0:solve"]
    assert dumps["job0:solve"] == Dump(total=175, scheduler=70) and dumps["job0:solve"].net == 105


@needs_valgrind
def test_self_costs_add_up_to_callgrinds_total_on_a_real_dump(tmp_path):
    out = tmp_path / "callgrind.out"
    true = shutil.which("true")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", true], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    total = int(re.findall(r"^totals: (\d+)", text, re.M)[-1])
    costs = self_cost_by_function(text)
    assert total > 1000 and sum(costs.values()) == total
    assert len(costs) > 10  # names resolved through fn=/cfn= compression


def test_bad_repeats_are_refused():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measure_instructions(TASKS, repeats=0)


@needs_valgrind
@pytest.mark.slow
def test_compare_instructions_column_and_json(tmp_path):
    out = tmp_path / "r.json"
    argv = ["compare", "--problem", "quadratic", "--n", "5", "--solvers", "scipy", "--repeats", "1"]
    argv += ["--first-call-repeats", "1", "--instructions", "--instructions-repeats", "1", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", *argv], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "instructions (M)" in proc.stdout and "instr/iter (k)" in proc.stdout
    assert "total (M), thread pool" in proc.stdout
    assert "instructions: callgrind (valgrind-" in proc.stdout
    (row,) = json.loads(out.read_text())["results"]
    assert row["instructions"] > 0 and len(row["instructions_samples"]) == 1
    assert row["instructions_total"] >= row["instructions"] and row["instructions_thread_pool_share"] >= 0
    assert row["instructions_per_iteration"] == pytest.approx(
        row["instructions"] / row["instructions_n_iter"][0]
    )
    meta = json.loads(out.read_text())["meta"]["instructions"]
    assert meta["skipped"] is None and meta["valgrind"].startswith("valgrind-")
    assert meta["arch"] and "glibc" in meta["os_image"]


def test_compare_without_valgrind_says_so_and_measures_the_rest(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv = ["compare", "--problem", "quadratic", "--n", "5", "--solvers", "scipy", "--repeats", "1"]
    argv += ["--first-call-repeats", "1", "--instructions"]
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "instruction counts skipped: valgrind is not installed" in proc.stdout
    assert "instructions (M)" not in proc.stdout and "steady (s)" in proc.stdout
