"""The pitfalls' rows and page without measuring: each sentence's branches, the verdict, ratio, cells."""

from __future__ import annotations

import pytest

from lbfgs_impl.commands.pitfalls.document import cell, group_table, seconds
from lbfgs_impl.commands.pitfalls.rows import ROWS, build_row

REFS = {
    "while": {"seconds": 0.02, "n_iter": 500},
    "loop_fixed": {"seconds": 0.1, "n_iter": 500},
    "loop": {"seconds": 0.3, "n_iter": 500},
    "scipy": {"seconds": 0.05, "n_iter": 498},
}


def _async(seconds, floor_s):
    fields = {"seconds": seconds, "samples": [seconds], "n_compilations": 0, "n_iter": 500, "n_fev": 600}
    return build_row("async_while", fields | {"floor_s": floor_s, "converged": True, "status": "ok"}, REFS)


@pytest.mark.parametrize(("seconds", "floor_s", "below"), [(1e-4, 5e-4, True), (1e-3, 5e-4, False)])
def test_the_async_verdict_and_sentence_follow_the_numbers(seconds, floor_s, below):
    row = _async(seconds, floor_s)
    assert row["below_floor"] is below
    assert row["verdict"] == ("below the floor" if below else "not below the floor")
    assert ("cannot be the solve" in row["what_went_wrong"]) is below
    assert row["ratio"] == pytest.approx(seconds / 0.02)
    assert row["correct_seconds"] == 0.02 and row["correct_n_iter"] == 500


@pytest.mark.parametrize(("compilations", "every"), [(500, True), (2, False)])
def test_jit_anew_says_whether_every_iteration_compiled(compilations, every):
    fields = {"seconds": 5.0, "samples": [5.0], "n_compilations": compilations, "n_iter": 500}
    row = build_row("jit_anew", fields, REFS)
    assert ("a compilation an iteration" in row["what_went_wrong"]) is every
    assert (f"compiled {compilations} times in 500 iterations" in row["what_went_wrong"]) is not every


@pytest.mark.parametrize("converged", [True, False])
def test_float32_says_whether_the_solve_finished(converged):
    fields = {"seconds": 0.01, "samples": [0.01], "n_compilations": 0, "n_iter": 40, "converged": converged}
    row = build_row("scipy_float32", fields | {"status": "x"}, REFS)
    assert ("unfinished" in row["what_went_wrong"]) is not converged


def test_every_row_names_a_reference_and_a_group():
    assert {spec.correct for spec in ROWS.values()} == set(REFS)
    assert sorted({spec.group for spec in ROWS.values()}) == [1, 2, 3, 4, 5]


def test_cells_escape_pipes_and_seconds_pick_a_unit():
    assert cell("||g||_inf") == "\\|\\|g\\|\\|_inf"
    assert [seconds(x) for x in (2.5, 0.0123, 4.5e-6, None)] == ["2.5 s", "12.3 ms", "4.5 us", "-"]
    table = group_table([_async(1e-4, 5e-4)], 1)
    assert "| floor | verdict |" in table[2]
    assert "| 100 us |" in table[4] and "| below the floor |" in table[4]
