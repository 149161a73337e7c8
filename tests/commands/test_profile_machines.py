"""``profile`` rows timed on several machines: one time profile per CPU model, said in profile.md."""

from __future__ import annotations

import json

from lbfgs_impl.commands.profile.document import write_outputs
from lbfgs_impl.commands.profile.runner import ProfileRun, Run, time_problem
from lbfgs_impl.measure.environment import cpu_model
from lbfgs_impl.solvers import SolverConfig


def _row(problem: str, solver: str, steady: float, cpu: str) -> Run:
    return Run(problem, 2, None, solver, 10.0, 0.0, value=0.0, n_fev=7, steady_s=steady, solved=True,
               cpu=cpu, host=cpu.lower())  # fmt: skip


def _run(models: dict[str, str]) -> ProfileRun:
    """Problems p1..p3, each timed (both solvers together) on the CPU model ``models[problem]``."""
    rows = [_row(p, s, t, models[p]) for p in models for s, t in (("scipy", 2e-3), ("optax_while", 1e-3))]
    return ProfileRun(rows, list(models), ["scipy", "optax_while"], {})


def test_one_time_profile_per_cpu_model_and_profile_md_says_so(tmp_path):
    written = write_outputs(_run({"p1": "Xeon A", "p2": "EPYC B", "p3": "Xeon A"}), tmp_path)
    names = sorted(p.name for p in written)
    assert "profile_time.png" not in names
    assert {"profile_time_cpu1.png", "profile_time_cpu2.png", "profile_evaluations.png"} <= set(names)
    md = (tmp_path / "profile.md").read_text()
    assert "Timed rows come from 2 CPU models" in md
    assert "cpu1: EPYC B (1 problems); cpu2: Xeon A (2 problems)" in md
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert {(r["problem"], r["cpu"], r["host"]) for r in runs} >= {("p2", "EPYC B", "epyc b")}


def test_one_cpu_model_keeps_one_time_profile(tmp_path):
    written = write_outputs(_run({"p1": "Xeon A", "p2": "Xeon A"}), tmp_path)
    assert "profile_time.png" in {p.name for p in written}
    assert "CPU models" not in (tmp_path / "profile.md").read_text()


def test_a_timed_problem_holds_all_its_solvers_and_records_the_machine():
    rows = time_problem("mgh_beale", ["scipy", "optax_while"], SolverConfig(), repeats=1)
    assert [r.solver for r in rows] == ["scipy", "optax_while"]
    assert all(r.steady_s is not None and r.solved for r in rows)
    assert {r.cpu for r in rows} == {cpu_model()} and all(r.host for r in rows)


def test_a_counted_solve_on_another_path_is_named_in_profile_md(tmp_path):
    run = _run({"p1": "Xeon A", "p2": "Xeon A"})
    for r in run.runs:
        r.n_iter, r.instructions, r.instructions_n_iter = 30, 1e6, 30
    run.runs[1].instructions_n_iter = 31  # optax_while on p1 counted a solve of one more iteration
    write_outputs(run, tmp_path)
    md = (tmp_path / "profile.md").read_text()
    # only a difference of iterations shows another path (a counted solve's evaluations are not counted):
    # the sentence names what it can see, not every counted solve on another path
    assert "Counted solves whose iterations differ from the timed solve's, so on another path (1;" in md
    assert "optax_while on p1 (31 counted, 30 timed iterations)" in md and "scipy on p1" not in md
    run.runs[1].instructions_n_iter = 30
    write_outputs(run, tmp_path)
    assert "another path" not in (tmp_path / "profile.md").read_text()
