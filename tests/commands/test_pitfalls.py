"""``lbfgs-bench pitfalls`` end to end on a tiny case: one run feeds every check of what is deterministic.

Times are never asserted; compilations, iterations, the floor verdict's consistency with the
numbers it was drawn from, and the report's contents are.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest

from lbfgs_impl.commands.pitfalls.closures import MISS
from lbfgs_impl.commands.pitfalls.rows import GROUPS, ROWS

N = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pitfalls") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "pitfalls", "--plan", "tiny", "--n", str(N), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "pitfalls.json").read_text())
    return out, doc, (out / "pitfalls.md").read_text(), proc.stderr


def _rows(doc):
    return {row["key"]: row for row in doc["rows"]}


def test_every_pitfall_has_a_row_in_order_and_the_files_are_written(run):
    out, doc, _, stderr = run
    assert [r["key"] for r in doc["rows"]] == list(ROWS)
    assert (out / "pitfalls.png").read_bytes()[:4] == b"\x89PNG"
    assert doc["problem"] == "rosenbrock" and doc["n"] == N and doc["plan"]["name"] == "tiny"
    meta = doc["meta"]
    assert meta["versions"]["jax"] and meta["cpu"] and "thread_env" in meta and meta["pinning"]["pinned"]
    assert "pitfalls took" in stderr
    load = doc["load_average"]
    assert len(load["start"]) == len(load["end"]) == 3 and doc["wall_s"] >= doc["measure_s"] > 0


def test_correct_measurements_compile_nothing_and_converge(run):
    _, doc, _, _ = run
    refs = doc["references"]
    assert set(refs) == {"while", "loop", "loop_fixed", "scipy"}
    for key, ref in refs.items():
        assert ref["n_compilations"] == 0, key
        assert len(ref["samples"]) == doc["plan"]["repeats"], key
        assert ref["seconds"] == statistics.median(ref["samples"]), key
    for key in ("while", "loop", "scipy"):
        assert refs[key]["converged"], refs[key]["status"]
    assert refs["loop_fixed"]["n_iter"] == refs["loop"]["n_iter"]
    assert refs["loop_fixed"]["n_fev"] == refs["loop"]["n_fev"]  # the same steps, the same evaluations


def test_each_row_is_compared_with_its_own_reference(run):
    _, doc, _, _ = run
    refs = doc["references"]
    for row in doc["rows"]:
        spec = ROWS[row["key"]]
        ref = refs[spec.correct]
        assert row["correct"] == spec.correct and row["group"] == spec.group and row["title"] == spec.title
        assert row["correct_seconds"] == ref["seconds"] and row["correct_n_iter"] == ref["n_iter"]
        assert row["ratio"] == pytest.approx(row["seconds"] / ref["seconds"])
        assert row["what_went_wrong"] == spec.sentence(row)
        if spec.same_computation:
            assert row["n_iter"] == ref["n_iter"], row["key"]


def test_compilations_where_the_pitfall_compiles_and_none_where_it_does_not(run):
    _, doc, _, _ = run
    rows = _rows(doc)
    for key in ("async_while", "async_steps", "scipy_not_jitted", "scipy_two_calls", "scipy_float32"):
        assert rows[key]["n_compilations"] == 0, key
    for key in ("first_call_while", "first_call_loop"):
        assert rows[key]["n_compilations"] >= 1, key
    assert rows["jit_anew"]["compilations_first_iteration"] >= 1
    assert rows["eager"]["n_compilations"] >= 1  # each primitive, and the line search's control flow


def test_recompiling_closures_compile_every_call_and_jax_says_so(run):
    _, doc, md, _ = run
    rows = _rows(doc)
    for key in ("new_function", "static_scalar"):
        row = rows[key]
        calls = doc["plan"]["calls"]
        assert row["calls"] == calls and len(row["samples"]) == calls
        assert all(c >= 1 for c in row["compilations_per_call"]), row["compilations_per_call"]
        assert row["n_compilations"] == sum(row["compilations_per_call"]) >= calls
        assert row["n_iter_per_call"] == [doc["references"]["while"]["n_iter"]] * calls
        log = row["jax_log"]
        assert log["compilations_logged"] >= calls and log["cache_misses_logged"] >= calls
        assert any("TRACING CACHE MISS" in line for line in log["excerpt"])
        # the compiled function is named where this JAX names it: "Compiling jit(while_loop_solve) with ..."
        # on newer JAX; on 0.4.38 (the declared floor) "Compiling <unnamed wrapped function> with ..." (a
        # functools.partial), the cache miss naming "functools.partial(<function while_loop_solve ...>"
        excerpt = log["excerpt"]
        assert any(line.startswith("Compiling ") for line in excerpt), excerpt
        assert any(
            line.startswith("Compiling jit(while_loop_solve)")
            or (MISS in line and "while_loop_solve" in line)
            for line in excerpt
        ), excerpt
        assert f"**{row['title']}**: JAX logged {log['compilations_logged']} compilation" in md
        assert log["excerpt"][0] in md
    assert "maybe the function is" in " ".join(rows["new_function"]["jax_log"]["excerpt"])


def test_the_async_verdict_follows_from_the_time_and_the_floor(run):
    """The effect may or may not go below the floor on a given machine; the verdict must match the numbers."""
    _, doc, md, _ = run
    floor = doc["floor"]
    assert floor["seconds_per_evaluation"] > 0 and floor["seconds_per_two_loop"] > 0
    for key in ("async_while", "async_steps"):
        row = _rows(doc)[key]
        per_evaluation, per_iteration = floor["seconds_per_evaluation"], floor["seconds_per_two_loop"]
        expected = row["n_fev"] * per_evaluation + row["n_iter"] * per_iteration
        assert row["floor_s"] == pytest.approx(expected)
        assert row["below_floor"] == (row["seconds"] < row["floor_s"])
        assert row["verdict"] == ("below the floor" if row["below_floor"] else "not below the floor")
        assert ("below the floor of the arithmetic" in row["what_went_wrong"]) == row["below_floor"]
        assert f"| {row['verdict']} |" in md


def test_the_eager_loop_is_capped_and_extrapolated_as_it_says(run):
    _, doc, md, _ = run
    row = _rows(doc)["eager"]
    cap = doc["plan"]["eager_iterations"]
    assert row["extrapolated"] and row["measured_iterations"] == row["n_iter"] == cap
    assert len(row["iteration_seconds"]) == cap
    per = row["iteration_seconds"]
    finish = doc["references"]["loop"]["n_iter"]
    assert row["seconds"] == pytest.approx(per[0] + (finish - 1) * statistics.median(per[1:]))
    assert row["measured_seconds"] >= sum(per)  # the per-iteration times are parts of the measured run
    assert f"{cap} (measured, capped) / {finish}" in md and "(extrapolated)" in md
    assert f"Extrapolated ({row['title']}): {row['extrapolation']}." in md


def test_scipy_on_the_unjitted_objective_is_capped_and_extrapolated_per_evaluation(run):
    _, doc, md, _ = run
    row = _rows(doc)["scipy_not_jitted"]
    cap = doc["plan"]["scipy_eager_iterations"]
    assert row["extrapolated"] and row["measured_iterations"] == row["n_iter"] == cap
    assert not row["converged"] and row["n_fev"] == row["measured_evaluations"]
    finish = doc["references"]["scipy"]["n_fev"]
    assert row["seconds"] == pytest.approx(row["measured_seconds"] / row["n_fev"] * finish)
    assert f"Extrapolated ({row['title']}): {row['extrapolation']}." in md


def test_the_markdown_has_one_line_per_row_under_its_group(run):
    _, doc, md, _ = run
    for group, title in GROUPS.items():
        assert f"### {group}. {title}" in md
    for row in doc["rows"]:
        line = next(x for x in md.splitlines() if x.startswith(f"| {row['title']} |"))
        assert row["what_went_wrong"].replace("|", "\\|") in line
        assert f"| {row['n_compilations']} |" in line
    for ref in doc["references"].values():
        assert f"| {ref['title']} |" in md
    start = ", ".join(f"{x:g}" for x in doc["load_average"]["start"])
    assert f"- load average (1, 5, 15 min) at the start: {start};" in md


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--problem", "nope"], "valid problems: rosenbrock"),
        (["--n", "1"], "n must be an integer >= 2, got 1"),
        (["--n", "x"], "invalid int value"),
        (["--maxiter", "0"], "expected an integer >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from lbfgs_impl.cli import main

    assert main(["pitfalls", *argv, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out" / "pitfalls.json").exists()
