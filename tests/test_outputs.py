"""Result files and impossible sizes: checked up front, one line on failure, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

import lbfgs_impl.commands.compare.runner
import lbfgs_impl.problems
from lbfgs_impl.cli import main
from lbfgs_impl.commands.compare.runner import run_comparison
from lbfgs_impl.measure.resources import InsufficientMemory, check_fits, is_out_of_memory, required_bytes
from lbfgs_impl.outputs import OutputError, atomic_write_text, check_writable
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig

TINY = ["--problem", "quadratic", "--n", "5", "--repeats", "1", "--first-call-repeats", "1"]


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_unwritable_target_is_one_line_error():
    with pytest.raises(OutputError, match=r"^cannot write /proc/lbfgs-bench\.json: "):
        check_writable("/proc/lbfgs-bench.json")
    with pytest.raises(OutputError, match=r"^cannot write /proc/x\.md: "):
        atomic_write_text("/proc/x.md", "text")


def test_directory_as_target_is_refused(tmp_path):
    with pytest.raises(OutputError, match="it is a directory"):
        check_writable(tmp_path)


def test_check_creates_missing_directories_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "new" / "dir" / "r.json"
    assert check_writable(target) == target
    assert target.parent.is_dir()
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_file_gets_the_mode_open_would_give(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "r.json", "{}")
        with open(tmp_path / "plain", "w") as f:
            f.write("{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "r.json") == expected == _mode(tmp_path / "plain")


def test_existing_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "r.json"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o640


def test_compare_refuses_an_unwritable_json_before_measuring():
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "compare", *TINY, "--json", "/proc/x.json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert _one_line(proc.stderr).startswith("lbfgs-bench: error: cannot write /proc/x.json: ")
    assert proc.stdout == ""  # nothing was measured


def test_compare_keeps_the_table_when_the_final_write_fails(tmp_path, monkeypatch, capsys, umask_022):
    target = tmp_path / "out" / "r.json"
    real_run = lbfgs_impl.commands.compare.runner.run_comparison

    def run_then_break_the_directory(*args, **kwargs):
        comparison = real_run(*args, **kwargs)
        shutil.rmtree(target.parent)
        target.parent.write_text("a file where the directory was")  # mkdir/mkstemp now fail
        return comparison

    monkeypatch.setattr(lbfgs_impl.commands.compare.runner, "run_comparison", run_then_break_the_directory)
    assert main(["compare", *TINY, "--json", str(target)]) == 1
    out, err = capsys.readouterr()
    assert "optax_while" in out and "speedup vs scipy" in out  # the figures are still shown
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"lbfgs-bench: error: cannot write {target}: ")
    assert last.endswith("the results above were not saved")
    assert "Traceback" not in err


def test_compare_json_is_readable_by_others(tmp_path, umask_022):
    target = tmp_path / "r.json"
    assert main(["compare", *TINY, "--solvers", "scipy", "--json", str(target)]) == 0
    assert _mode(target) == 0o644
    assert json.loads(target.read_text())["results"][0]["solver"] == "scipy"


def test_check_regressions_refuses_an_unwritable_report(tmp_path, capsys):
    missing = str(tmp_path / "no.json")
    assert main(["check-regressions", missing, missing, "--report", "/proc/r.md"]) == 2
    assert _one_line(capsys.readouterr().err).startswith("lbfgs-bench: error: cannot write /proc/r.md: ")


def test_impossible_size_is_refused_up_front():
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "compare", "--n", "99999999999", "--solvers", "scipy"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert line.startswith("lbfgs-bench: error: rosenbrock n=99999999999 needs at least ")
    assert "TiB of memory" in line and "available" in line


def test_memory_estimate_counts_data_and_lbfgs_state():
    assert required_bytes("rosenbrock", 1000, memory_size=10) == 8 * 1000 * 40
    logistic = required_bytes("logistic", 1000, memory_size=10)
    assert logistic == 2 * 8 * (1000 * 1000 + 1000 + 1000 + 1) + 8 * 1000 * 40
    check_fits("logistic", 1000)  # small sizes pass
    with pytest.raises(InsufficientMemory, match=r"logistic n=10000000000 needs at least .* TiB"):
        check_fits("logistic", 10**10)


def test_out_of_memory_during_a_run_is_one_line(monkeypatch, capsys):
    def allocate_too_much(name, n=None, **params):
        return np.zeros(2**47)  # 1 PiB: more than any address space, so NumPy raises MemoryError

    monkeypatch.setattr(lbfgs_impl.problems, "make_problem", allocate_too_much)
    assert main(["compare", *TINY]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("lbfgs-bench: out of memory: Unable to allocate")


def test_xla_resource_exhausted_counts_as_out_of_memory():
    assert is_out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 800000000000 bytes."))
    assert not is_out_of_memory(RuntimeError("INVALID_ARGUMENT: shapes differ"))


def test_break_even_is_not_computed_for_solves_that_did_not_converge():
    problem = make_problem("quadratic", 20)
    comparison = run_comparison(
        problem, ["scipy", "optax_while"], SolverConfig(maxiter=3), repeats=1, first_call_repeats=1
    )
    row = comparison.rows[1]
    assert not row.result.converged
    assert row.break_even_vs_scipy is None
    assert row.break_even_note == "break-even not computed: scipy and optax_while did not converge"
    from lbfgs_impl.commands.compare.table import format_table

    table = format_table(comparison)
    assert "optax_while: break-even not computed: scipy and optax_while did not converge" in table
    assert "pays back its first call after" not in table
