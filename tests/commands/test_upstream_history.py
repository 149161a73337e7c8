"""``lbfgs-bench history``: steps named with their release pair and cause, the page from data, versions."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from pathlib import Path

import pytest

from lbfgs_impl.cli import main
from lbfgs_impl.commands.history import document as doc
from lbfgs_impl.commands.history.plan import FIXED_JAX, SERIES
from lbfgs_impl.commands.history.steps import Point, cause, find_steps

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "data" / "upstream"


def _points(solve: list[float], iters: list[int] | None = None, fev: list[int] | None = None) -> list[Point]:
    iters = iters or [500] * len(solve)
    fev = fev or [600] * len(solve)
    return [
        Point(f"r{i}", s * 1e6, 6e9, 262.0, it, ev)
        for i, (s, it, ev) in enumerate(zip(solve, iters, fev, strict=True))
    ]


def test_a_five_percent_step_is_named_with_its_pair_and_as_cost_per_iteration():
    points = _points([47.0, 47.0, 47.0, 47.0 * 1.05, 47.0 * 1.05, 47.0 * 1.05])
    steps = find_steps(points, "solve")
    assert len(steps) == 1
    (step,) = steps
    assert (step.before, step.after) == ("r2", "r3")
    assert step.change == pytest.approx(0.05)
    assert step.cause == "cost per iteration"
    assert step.method == "step_detect"  # asv's detector finds it, as on the nightly history


def test_a_one_percent_change_is_not_named():
    points = _points([47.0, 47.0, 47.0 * 1.01, 47.0 * 1.01, 47.0 * 1.01])
    assert find_steps(points, "solve") == []


def test_a_change_of_iterations_is_classed_as_the_algorithm():
    points = _points([47.0, 47.0, 70.0, 70.0], iters=[500, 500, 745, 745], fev=[600, 600, 890, 890])
    (step,) = find_steps(points, "solve")
    assert step.cause == "iterations"
    assert step.iterations == (500, 745)
    assert abs(step.per_iteration_change) < 0.02


def test_both_causes_at_once_are_named_both():
    a = Point("a", 50e6, None, None, 500, 600)
    b = Point("b", 80e6, None, None, 600, 700)  # +20% iterations, +33% per iteration
    assert cause(a, b, "solve") == "both"


def test_a_change_at_one_release_only_is_still_named():
    points = _points([47.0, 47.0, 47.0, 60.0, 47.0, 47.0, 47.0])
    steps = find_steps(points, "solve")
    assert [(s.before, s.after) for s in steps] == [("r2", "r3"), ("r3", "r4")]


def _run(jax: str, optax: str, solve: float, n_iter: int, compile_: float = 6e9) -> dict:
    return {
        "meta": {
            "python": "3.11.7",
            "versions": {"jax": jax, "jaxlib": jax, "optax": optax, "numpy": "2.4.6", "scipy": "1.17.1"},
            "cpu": "Test CPU",
            "cpu_count": 2,
            "valgrind": "valgrind-3.19.0",
        },
        "static": {"n_iter": n_iter, "n_fev": n_iter + 90, "kernels_per_iteration_total": 262.0},
        "instructions": {
            "results": [
                {
                    "instructions": solve,
                    "instructions_samples": [solve],
                    "compile_instructions": compile_,
                    "n_iter": [n_iter],
                    "n_fev": [n_iter + 90],
                }
            ]
        },
    }


META_AB = {"cpu_count": 2, "versions": {"jax": FIXED_JAX}}


@pytest.fixture
def fixture_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "runs").mkdir(parents=True)
    for i, release in enumerate(SERIES["optax"]):
        solve = 40e6 if i < 3 else 44e6  # a +10% step between the third and fourth release
        run = _run(release.jax, release.optax, solve, 500)
        if release.optax == "0.2.7":  # a release counted without its compile
            run["instructions"]["meta"] = {"compile_counted": False}
            run["instructions"]["results"][0]["compile_instructions"] = None
        (data / "runs" / f"{release.name}.json").write_text(json.dumps(run))
    ab = {
        "labels": ["optax 0.2.4", "optax 0.2.8"],
        "rounds": 2,
        "per_round": 2,
        "cpu": 1,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [1.0, 1.0, 1.0],
        "envs": {
            "optax 0.2.4": {"meta": META_AB, "times_s": [[0.010, 0.011], [0.010, 0.012]]},
            "optax 0.2.8": {"meta": META_AB, "times_s": [[0.020, 0.022], [0.020, 0.024]]},
        },
        "round_ratios": [2.0, 2.0],
    }
    (data / "ab.json").write_text(json.dumps(ab))
    return data


def _generator():
    import sys

    sys.path.insert(0, str(ROOT / "scripts" / "docs_pages"))
    spec = importlib.util.spec_from_file_location(
        "docs_pages_upstream", ROOT / "scripts/docs_pages/upstream.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_names_the_step_and_answers_the_ab_question_from_the_data(fixture_data, tmp_path):
    written = _generator().generate(fixture_data, tmp_path / "docs")
    text = written[0].read_text()
    assert (tmp_path / "docs" / "figures" / "upstream_optax.png") in written
    assert "| optax 0.2.5 | optax 0.2.6 | +10.0% |" in text
    assert "cost per iteration" in text
    assert "first call's compile not counted (`-`): optax 0.2.7; " in text
    assert f"JAX {FIXED_JAX}" in text
    # 0.2.8's solve is 44 M against 0.2.4's 40 M, and its wall times are twice 0.2.4's
    assert f"- JAX {FIXED_JAX}: the steady solve of Optax 0.2.8 executes 1.100x the instructions" in text
    assert "ratio of medians 2.000" in text and "ratio of minima 2.000" in text
    answer = "Optax 0.2.8's steady solve executes more than Optax 0.2.4's instructions and takes more than"
    assert answer in text


def test_the_ab_summary_reads_every_round_not_the_first():
    ab = {
        "labels": ["a", "b"],
        "envs": {"a": {"times_s": [[1.0], [1.0], [1.0]]}, "b": {"times_s": [[1.0], [3.0], [3.0]]}},
        "round_ratios": [1.0, 3.0, 3.0],
    }
    s = doc.ab_summary(ab)
    assert s["ratio_of_medians"] == 3.0 and s["ratio_of_minima"] == 1.0 and s["samples"] == 3


RUNS = sorted((DATA / "runs").glob("*.json"))


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_every_committed_run_records_the_versions_its_name_says(path):
    run = json.loads(path.read_text())
    jax, optax = re.fullmatch(r"jax-(.+)-optax-(.+)", path.stem).groups()
    meta = run["meta"]
    assert meta["versions"]["jax"] == jax and meta["versions"]["jaxlib"] == jax
    assert meta["versions"]["optax"] == optax
    assert meta["versions"]["numpy"] and meta["versions"]["scipy"] and meta["python"]
    assert meta["valgrind"].startswith("valgrind")
    counted = run["instructions"]["results"][0]
    assert counted["instructions_samples"] and not counted["errors"], counted["errors"]
    assert all(counted["converged"])


def test_every_committed_change_of_two_percent_is_a_named_step():
    runs = doc.load_runs(DATA)
    for series in SERIES:
        points = [p for _, p in doc.series_points(series, runs)]
        named = {(s.figure, s.before, s.after) for s in doc.steps_of(series, runs)}
        for figure in ("solve", "compile", "kernels_per_iteration"):
            for a, b in itertools.pairwise(points):
                va, vb = getattr(a, figure), getattr(b, figure)
                if va and vb and abs(vb / va - 1) >= 0.02:
                    assert (figure, a.label, b.label) in named


@pytest.mark.parametrize(
    "args, message",
    [
        (["--series", "numpy"], "--series: unknown numpy; valid: optax, jax"),
        (["--ab", "0.2.4,0.1.0"], "--ab takes two of: 0.2.3, 0.2.4, 0.2.5, 0.2.6, 0.2.7, 0.2.8"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main(["history", str(tmp_path), "--envs", str(tmp_path / "envs"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_kernel_step_tells_the_compiled_loop_from_more_line_search_evaluations():
    a = Point("a", 47e6, None, 200.0, 500, 600, kernels_fixed=170.0)
    more_evals = Point("b", 47e6, None, 210.0, 500, 700, kernels_fixed=170.0)
    new_loop = Point("c", 47e6, None, 240.0, 500, 600, kernels_fixed=210.0)
    assert cause(a, more_evals, "kernels_per_iteration") == "evaluations per iteration"
    assert cause(a, new_loop, "kernels_per_iteration") == "kernels"


def test_a_one_percent_wobble_of_evaluations_leaves_a_cost_step_a_cost_step():
    a = Point("a", 39.3e6, None, None, 506, 592)
    b = Point("b", 47.4e6, None, None, 505, 601)  # evaluations +1.5%, instructions per iteration +21%
    assert cause(a, b, "solve") == "cost per iteration"
