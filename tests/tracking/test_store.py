"""The results store (a git branch) against a local bare repository: plain git, nothing cached."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lbfgs_impl.tracking.history import storage_files
from lbfgs_impl.tracking.runs import load_run
from lbfgs_impl.tracking.store import BRANCH, append, fetch, get_dir, main, put_dir

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"


@pytest.fixture
def bare(tmp_path) -> str:
    path = tmp_path / "results.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return str(path)


def test_an_empty_store_has_no_usable_night(tmp_path, bare):
    assert fetch(bare, BRANCH, tmp_path / "h") == 0
    assert storage_files(tmp_path / "h") == []


def test_nights_are_appended_with_their_verdicts_and_read_back_as_a_storage_folder(tmp_path, bare):
    first = append(bare, BRANCH, DATA, exit_code=2, baseline=True, outcome="no baseline; seeded the history")
    second = append(bare, BRANCH, DATA, exit_code=1, baseline=False, outcome="regression")
    assert (
        first.startswith("Linux-CPython-3.11-64bit/0001_ea10a35dce10_") and second.split("/")[1][:4] == "0002"
    )
    assert fetch(bare, BRANCH, tmp_path / "h") == 1  # the night that regressed is kept, not usable
    files = storage_files(tmp_path / "h")
    assert [f.name[:4] for f in files] == ["0001", "0002"]
    runs = [load_run(f) for f in files]
    assert [r.gate["exit"] for r in runs] == [2, 1] and [r.gate["baseline"] for r in runs] == [True, False]
    original = json.loads(DATA.read_text())
    assert runs[0].machine_info == original["machine_info"] and runs[0].commit_info == original["commit_info"]
    assert len(runs[0].benchmarks) == len(original["benchmarks"])
    log = subprocess.run(["git", "-C", bare, "log", "--format=%s", BRANCH], capture_output=True, text=True)
    assert log.stdout.splitlines()[0].endswith(": exit 1, regression")


def test_a_folder_is_kept_beside_the_nights(tmp_path, bare):
    src = tmp_path / "results" / "machine"
    src.mkdir(parents=True)
    (src / "r.json").write_text("{}")
    assert get_dir(bare, BRANCH, "asv-results", tmp_path / "none") is False
    put_dir(bare, BRANCH, tmp_path / "results", "asv-results")
    append(bare, BRANCH, DATA, exit_code=0, baseline=True, outcome="no regression")
    assert get_dir(bare, BRANCH, "asv-results", tmp_path / "back") is True
    assert (tmp_path / "back" / "machine" / "r.json").read_text() == "{}"


def test_a_store_that_cannot_be_reached_is_exit_3_in_one_line(tmp_path, capsys):
    assert main(["fetch", str(tmp_path / "nowhere.git"), str(tmp_path / "h")]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("results store: git ls-remote")
