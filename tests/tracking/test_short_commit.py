"""Commit labels in reports: git hashes shortened, other labels kept whole."""

from lbfgs_impl.tracking.report import _run_label
from lbfgs_impl.tracking.runs import BenchmarkRun, short_commit


def test_a_git_hash_is_shortened_to_ten_digits():
    assert short_commit("0123456789abcdef0123456789abcdef01234567") == "0123456789"


def test_a_label_that_is_not_a_hash_is_kept_whole():
    # pytest-benchmark records runs made outside git as "unversioned": cutting it gave "unversione".
    assert short_commit("unversioned") == "unversioned"
    assert short_commit(None) == "unknown commit"
    assert short_commit("", missing="?") == "?"


def test_the_report_names_an_unversioned_run_whole():
    run = BenchmarkRun(
        path="0001_x.json",
        benchmarks={},
        machine_info={},
        commit_info={"id": "unversioned"},
        datetime="2026-01-01",
    )
    assert "unversioned," in _run_label(run)
