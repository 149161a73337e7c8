"""`lbfgs-bench report`'s measurements and document on known inputs (issue 16): no timing thresholds."""

from __future__ import annotations

import json
import re

import jax
import numpy as np
import pytest

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.commands.report import stages
from lbfgs_impl.commands.report.build import build_report
from lbfgs_impl.commands.report.data import ReportData, StageResult
from lbfgs_impl.commands.report.document import render
from lbfgs_impl.commands.report.floor import OFFSET, STEP, evaluation_chain
from lbfgs_impl.commands.report.plans import TINY
from lbfgs_impl.commands.report.runner import _with_bar
from lbfgs_impl.problems import make_problem


def test_the_floor_evaluates_the_full_gradient_at_a_typical_point():
    n = 12
    p = make_problem("rosenbrock", n)
    x = p.x0 + OFFSET
    compiled = jax.jit(evaluation_chain(p.objective, 3)).lower(x, p.data).compile()
    hlo = compiled.as_text()
    # the gradient (the transpose of the JVP) is produced at full shape inside the loop body; JAX
    # names it transpose(jvp()) in newer releases, 0.4.38 only by its cotangent sums (add_any)
    full = [
        line
        for line in hlo.splitlines()
        if re.search(rf"= f64\[{n}\]", line)
        and "while/body" in line
        and ("transpose(jvp())" in line or "while/body/add_any" in line)
    ]
    assert full, "no full-shape gradient in the compiled loop body"
    out = np.asarray(compiled(x, p.data))
    grad = np.asarray(jax.grad(p.objective)(x, p.data))
    assert out.shape == (n,)
    # every element moved by 3 gradient steps: the whole gradient was evaluated, three times
    np.testing.assert_allclose(np.asarray(x) - out, 3 * STEP * grad, rtol=1e-3)
    row = stages.evaluation_floor("rosenbrock", n, count=10, repeats=1)
    assert row["point"] == "x0 + 0.5" and row["evaluations_timed"] == 10
    assert (
        row["method"].startswith(("(t(2N) - t(N)) / N", "t(2N) / 2N")) and row["seconds_per_evaluation"] > 0
    )


def test_overhead_takes_out_the_iterations_own_evaluations():
    assert stages.overhead_ratio(7e-6, 0.175e-6, 2.0) == pytest.approx(38.0)
    assert stages.overhead_ratio(1e-6, 1e-6, 1.0) == pytest.approx(0.0)


def test_crossover_direction_is_stated():
    assert stages.crossover_direction([(10, 4.0), (100, 0.5)]) == "falls below"
    assert stages.crossover_direction([(10, 0.5), (100, 4.0)]) == "rises above"
    assert stages.crossover_direction([(10, 4.0), (100, 2.0)]) is None


def test_fixed_budgets_compare_time_per_iteration():
    rows = [
        {"problem": "p", "n": 10, "solver": "scipy", "steady_s": 1.0, "fixed_budget": True,
         "seconds_per_iteration": 1.0 / 100},  # stopped early: 100 iterations
        {"problem": "p", "n": 10, "solver": "optax_while", "steady_s": 2.0, "fixed_budget": True,
         "seconds_per_iteration": 2.0 / 1000},
        {"problem": "p", "n": 20, "solver": "scipy", "steady_s": 1.0, "fixed_budget": False,
         "seconds_per_iteration": 0.1},
        {"problem": "p", "n": 20, "solver": "optax_while", "steady_s": 2.0, "fixed_budget": False,
         "seconds_per_iteration": 0.01},
    ]  # fmt: skip
    # one basis per curve: per solve (n=20) and per iteration at the fixed budget (n=10), never joined
    assert stages.speedups(rows)["p"]["optax_while"] == [(20, pytest.approx(0.5))]
    assert stages.speedups(rows, stages.PER_ITERATION)["p"]["optax_while"] == [(10, pytest.approx(5.0))]


def test_speedups_that_count_iterations_are_flagged_with_the_per_iteration_figure():
    rows = [
        {"problem": "r", "n": 1000, "solver": "scipy", "steady_s": 4.94, "n_iter": 4940,
         "seconds_per_iteration": 1e-3, "fixed_budget": False},
        {"problem": "r", "n": 1000, "solver": "jaxopt_lbfgs", "steady_s": 0.0098, "n_iter": 49,
         "seconds_per_iteration": 2e-4, "fixed_budget": False},
        {"problem": "r", "n": 1000, "solver": "optax_while", "steady_s": 0.247, "n_iter": 4941,
         "seconds_per_iteration": 5e-5, "fixed_budget": False},
        {"problem": "r", "n": 100, "solver": "scipy", "steady_s": 1.0, "n_iter": 100,
         "seconds_per_iteration": 1e-2, "fixed_budget": True},
        {"problem": "r", "n": 100, "solver": "jaxopt_lbfgs", "steady_s": 1.0, "n_iter": 10,
         "seconds_per_iteration": 0.1, "fixed_budget": True},  # fixed budget: per iteration already
    ]  # fmt: skip
    (gap,) = stages.iteration_gaps(rows)
    assert (gap["solver"], gap["n"], gap["n_iter"], gap["scipy_n_iter"]) == ("jaxopt_lbfgs", 1000, 49, 4940)
    assert gap["speedup_per_solve"] == pytest.approx(504.08, rel=1e-3)
    assert gap["speedup_per_iteration"] == pytest.approx(5.0)
    # exactly 2x apart is not a gap; just over is
    rows[2]["n_iter"] = 2470
    assert [g["solver"] for g in stages.iteration_gaps(rows)] == ["jaxopt_lbfgs"]
    rows[2]["n_iter"] = 2469
    assert [g["solver"] for g in stages.iteration_gaps(rows)] == ["jaxopt_lbfgs", "optax_while"]
    # counts are reported as measured, 0 included; a missing time gives no ratio instead of an error
    rows[2]["n_iter"], rows[2]["steady_s"], rows[2]["seconds_per_iteration"] = 0, None, None
    gap = stages.iteration_gaps(rows)[1]
    assert (gap["n_iter"], gap["scipy_n_iter"], gap["speedup_per_solve"]) == (0, 4940, None)
    assert gap["speedup_per_iteration"] is None


def _child(hits=0, compiles=1, n_iter=5, converged=True):
    return {"cache_hits": hits, "backend_compiles": compiles, "n_iter": n_iter, "converged": converged}


def test_break_even_children_are_checked():
    steady = {"n_iter": 5, "converged": True}
    # a cache load is reported as a compilation too: warm, every compilation must be a hit
    stages.check_children("s", [_child(compiles=2)] * 3, [_child(hits=2, compiles=2)] * 3, steady)
    for cold, warm, what in (
        ([_child(hits=1)], [_child(hits=1)], "cold child hit"),
        ([_child()], [_child(hits=0)], "warm child compiled what the persistent cache should have served"),
        ([_child(compiles=2)], [_child(hits=1, compiles=2)], "warm child compiled what"),  # one missed
        ([_child(compiles=0)], [_child(hits=1)], "compiled nothing"),
        ([_child(n_iter=6)], [_child(hits=1)], "took 6 iterations"),
    ):
        with pytest.raises(RuntimeError, match=what):
            stages.check_children("s", cold, warm, steady)


def test_a_convergence_trace_must_be_its_solve():
    trace = {"loss": [3.0, 2.0, 1.0], "grad": [1.0] * 3, "time_s": [0.1] * 3}
    stages.check_trace("s", trace, 3, 1.0)
    with pytest.raises(RuntimeError, match=r"3 iterations ending at 1\.0, the solve 4"):
        stages.check_trace("s", trace, 4, 1.0)
    with pytest.raises(RuntimeError):
        stages.check_trace("s", trace, 3, 0.5)


def test_the_bar_advances_after_a_step_not_before():
    from tqdm import tqdm

    seen = []

    def fn(tick):
        for step in ("a", "b", "c"):
            tick(step)
            (bar,) = [b for b in tqdm._instances if b.total == 3]
            seen.append(bar.n)  # steps finished while this one runs
        return "done"

    assert _with_bar("t", 3, fn)() == "done"
    assert seen == [0, 1, 2]


def test_each_stage_is_saved_as_it_finishes(tmp_path):
    def second():
        doc = json.loads((tmp_path / "report.json").read_text())
        assert doc["stages"]["first"]["data"] == [1, 2, 3]
        raise RuntimeError("crash in a later stage")

    build_report(tmp_path, TINY, pinning={"pinned": False}, progress=lambda m: None,
                 stages={"first": lambda: [1, 2, 3], "second": second})  # fmt: skip
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["stages"]["first"]["data"] == [1, 2, 3]
    assert "crash in a later stage" in doc["stages"]["second"]["error"]


BATCH_ROW = {
    "B": 4, "n": 10, "repeats": 2, "vmap_s": 0.1, "sequential_jit_s": 0.2, "sequential_scipy_s": 0.4,
    "converged_members": 4, "converged_sequential_jit": 4, "converged_scipy": 4, "member_iterations_min": 30,
    "member_iterations_max": 40, "same_iterations_vmap_vs_sequential": 4, "scipy_iterations": [1, 2, 3, 4],
}  # fmt: skip


def test_batched_peers_are_shown_and_a_peer_that_cannot_batch_says_why():
    peer = {k: BATCH_ROW[k] for k in ("sequential_jit_s", "converged_members", "converged_sequential_jit",
                                      "member_iterations_min", "member_iterations_max",
                                      "same_iterations_vmap_vs_sequential")}  # fmt: skip
    row = {**BATCH_ROW, "peers": {"jaxopt_lbfgs": {**peer, "vmap_s": 0.05, "converged_members": 3},
                                  "optimistix_lbfgs": {
        "unsupported": "jax.vmap failed: X"}}}  # fmt: skip
    rows = [_scaling_row(s, 100, 1000, False, s not in ("scipy", "optax_loop", "optax_while"))
            for s in ("scipy", "optax_loop", "optax_while", "jaxopt_lbfgs", "optimistix_lbfgs")]  # fmt: skip
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    report.stages["batched"] = StageResult("batched", [row])
    text = render(report)
    assert "| 4 | jaxopt_lbfgs | 0.0500 | 0.2000 | 0.4000 | 3 / 4 / 4 of 4 | 30-40 |" in text
    assert "- jaxopt_lbfgs (peer): vmap 0.050 s (8.0x SciPy)" in text
    assert "- optimistix_lbfgs: not batched (jax.vmap failed: X)." in text
    headline = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert headline["jaxopt_lbfgs (peer)"].rstrip().endswith("| 8.0x (3/4 converged) |")
    assert headline["optimistix_lbfgs (peer)"].rstrip().endswith("| not batched (section 4 says why) |")
    assert headline["optax_while"].rstrip().endswith("| 4.0x |")
    assert headline["optax_loop"].rstrip().endswith("| - (host loop) |")


def test_a_peer_that_fails_while_batched_is_recorded_not_raised():
    import jax.numpy as jnp

    from lbfgs_impl.commands.report.batched import _batch_peer

    starts = jnp.ones((3, 2))

    def not_a_solve(x0, d):
        return 2 * x0

    # vmaps and compiles, but is no solve
    got = _batch_peer((not_a_solve, jax.jit(not_a_solve)), starts, None, 1, 1e-5, None)
    assert got["unsupported"].startswith("failed while batched: AttributeError")
    assert _batch_peer("not installed: x", starts, None, 1, 1e-5, None) == {"unsupported": "not installed: x"}


def test_a_failed_figure_keeps_its_stage_tables(tmp_path, monkeypatch):
    import lbfgs_impl.plots.report as plots

    def broken(*args, **kwargs):
        raise ValueError("cannot draw")

    monkeypatch.setattr(plots, "batched", broken)
    build_report(tmp_path, TINY, pinning={"pinned": False}, progress=lambda m: None,
                 stages={"batched": lambda: [BATCH_ROW]})  # fmt: skip
    text = (tmp_path / "report.md").read_text()
    assert "## 4. Batched solves" in text and "| 4 | optax_while | 0.1000 | 0.2000 | 0.4000 |" in text
    assert "could not be drawn: `ValueError: cannot draw`" in text and "](batched.png)" not in text


def _report() -> ReportData:
    """An empty tiny report with the machine fields the document's intro reads."""
    versions = {k: "x" for k in ("jax", "jaxlib", "optax", "scipy", "numpy")}
    meta = {"versions": versions, "python": "3", "cpu": "c", "cpu_count": 2, "pinning": {"pinned": False},
            "thread_env": {}, "timestamp_utc": "t"}  # fmt: skip
    return ReportData("tiny", meta)


def _scaling_row(solver, n, maxiter, fixed, peer=False):
    return {
        "problem": "rosenbrock", "n": n, "solver": solver, "fixed_budget": fixed, "maxiter": maxiter,
        "gtol": 1e-3, "memory_size": 7, "peer": peer, "first_call_s": 1.0, "compile_s": 0.5,
        "steady_s": 0.01 if solver == "scipy" else 0.005, "n_iter": 50, "n_fev": 60, "converged": not fixed,
        "seconds_per_iteration": 1e-4 if solver == "scipy" else 5e-5,
    }  # fmt: skip


def test_captions_come_from_the_data():
    rows = [
        _scaling_row(s, n, m, fx, s == "jaxopt_lbfgs")
        for n, m, fx in ((100, 4321, False), (5000, 777, True))
        for s in ("scipy", "optax_while", "jaxopt_lbfgs")
    ]
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    report.stages["batched"] = StageResult("batched", [BATCH_ROW])
    text = render(report)
    assert "gtol 0.001, memory 7, maxiter 4321" in text
    assert "rosenbrock n=5000 (777 iterations)" in text
    assert "1000 iterations" not in text and "gtol 1e-5, memory 10" not in text
    assert "| jaxopt_lbfgs (peer) |" in text  # peers in the headline table, marked
    assert "batched speedup at B=4" in text
    assert "per solve: faster at every measured n=100; per iteration: faster at every measured n=5000" in text
    assert "faster at every n" not in text
    assert "Speedups that count iterations" not in text  # same iterations everywhere
    rows[1]["n_iter"] = 20  # optax_while at n=100: 20 against SciPy's 50 iterations
    text = render(report)
    assert "Speedups that count iterations" in text
    expected = "rosenbrock n=100 optax_while: 20 against 50 iterations, 2.00x per solve, 2.00x per iteration"
    assert expected in text
    report.stages["convergence"] = StageResult(
        "convergence", {"optax_while": {"loss": [1.0, 0.5], "grad": [1, 1], "time_s": [0.1, 0.2]}}
    )
    text = render(report)
    assert (
        "identical, tested" not in text and "checked in this run against its own solve (2 iterations" in text
    )


def test_break_even_figure_says_never_on_a_linear_axis(tmp_path, monkeypatch):
    import lbfgs_impl.plots.report as plots

    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig) and path)
    rows = [
        {"solver": "optax_loop", "problem": "rosenbrock", "n": 100, "break_even_cold": None,
         "break_even_warm": 3, "converged": True},
        {"solver": "jax_scipy_bfgs", "problem": "rosenbrock", "n": 100, "break_even_cold": None,
         "break_even_warm": None, "converged": False},
        {"solver": "optax_while", "problem": "logistic", "n": 10_000, "break_even_cold": 651,
         "break_even_warm": 89, "converged": True},
    ]  # fmt: skip
    plots.break_even(rows, tmp_path / "b.png")
    first, second = drawn["fig"].axes  # one panel per case, each on its own scale
    texts = [t.get_text() for t in first.texts]
    assert texts.count("never") == 1 and "3" in texts  # optax_loop: converged, never catches up cold
    assert texts.count("not computed") == 2  # a solve that did not converge has no break-even
    assert first.get_title() == "rosenbrock n=100" and second.get_title() == "logistic n=10000"
    assert [t.get_text() for t in first.get_xticklabels()] == ["optax_loop", "jax_scipy_bfgs\n(peer)"]
    for ax in (first, second):
        assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    assert second.get_ylim()[1] > 651 > 10 * first.get_ylim()[1]


def test_dense_bfgs_runs_only_up_to_its_size_limit_and_the_section_says_so(monkeypatch):
    from types import SimpleNamespace as NS

    # what is tested is which solvers run at which n: the measurements are stand-ins (no compile)
    monkeypatch.setattr("lbfgs_impl.commands.report.plans.DENSE_MAX_N", 10)
    result = NS(n_iter=5, n_fev=6, converged=True)
    sample = NS(total_s=1.0, compile_s=0.5, n_compilations=1)
    monkeypatch.setattr(stages, "cold_start", lambda solver, problem, config: (sample, result, solver.name))
    monkeypatch.setattr(
        stages, "measure_steady",
        lambda prepared, repeats, **kw: (
            {s: NS(median_s=0.01, times_s=[0.01]) for s in prepared}, {s: result for s in prepared}
        ),
    )  # fmt: skip
    cases = (BenchCase("rosenbrock", 10, 10_000), BenchCase("rosenbrock", 20, 10_000))
    rows = stages.scaling(cases, 1, lambda m: None, solvers=["optax_while", "jax_scipy_bfgs"])
    assert sorted((r["solver"], r["n"]) for r in rows) == [
        ("jax_scipy_bfgs", 10), ("optax_while", 10), ("optax_while", 20)
    ]  # fmt: skip
    report = ReportData("tiny", {})
    report.stages["scaling"] = StageResult("scaling", rows)
    monkeypatch.setattr("lbfgs_impl.commands.report.sections.DENSE_MAX_N", 10)
    from lbfgs_impl.commands.report.sections import section_scaling

    text = "\n".join(section_scaling(report))
    assert "- jax_scipy_bfgs keeps a dense n x n inverse Hessian (BFGS): run up to n = 10 only" in text


def test_break_even_leaves_dense_bfgs_out_above_its_size_limit(monkeypatch):
    from lbfgs_impl.commands.report import first_call

    child = {"first_call_s": 1.0, "cache_hits": 0, "backend_compiles": 1}
    ran = []

    def fake_calls(case, solver, cache, samples, cpu):
        ran.append(solver)
        return {"cold": [child] * samples, "warm": [child] * samples}

    monkeypatch.setattr("lbfgs_impl.commands.report.plans.DENSE_MAX_N", 10)
    monkeypatch.setattr(first_call, "_first_calls", fake_calls)
    monkeypatch.setattr(first_call, "check_children", lambda *a: None)
    monkeypatch.setattr(first_call, "_steady", lambda *a: {"steady_s": 0.1, "n_iter": 5, "converged": True})
    cases = (BenchCase("rosenbrock", 10, 100), BenchCase("rosenbrock", 20, 100))
    rows = first_call.break_even(cases, [], None, lambda m: None, samples=1,
                                 solvers=["optax_while", "jax_scipy_bfgs"])  # fmt: skip
    assert [(r["solver"], r["n"]) for r in rows] == [
        ("optax_while", 10), ("jax_scipy_bfgs", 10), ("optax_while", 20)
    ]  # fmt: skip
    assert ran == ["scipy", "optax_while", "jax_scipy_bfgs", "scipy", "optax_while"]


def test_a_solve_that_did_not_converge_gives_no_speedup_and_is_named():
    rows = [
        _scaling_row(s, n, 1000, False, s == "jax_scipy_bfgs")
        for n in (100, 1000)
        for s in ("scipy", "optax_while", "jax_scipy_bfgs")
    ]
    failed = next(r for r in rows if r["solver"] == "jax_scipy_bfgs" and r["n"] == 100)
    failed.update(converged=False, n_iter=2, steady_s=0.0001)  # stopped short: "fast" for doing less
    assert [n for n, _ in stages.speedups(rows)["rosenbrock"]["jax_scipy_bfgs"]] == [1000]
    assert all(g["solver"] != "jax_scipy_bfgs" or g["n"] != 100 for g in stages.iteration_gaps(rows))
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    text = render(report)
    headline = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "| did not converge |" in headline["jax_scipy_bfgs (peer)"]
    assert "| 2.00x |" in headline["optax_while"]
    assert "left out of every speedup and crossover" in text
    assert "rosenbrock n=100 jax_scipy_bfgs (peer) (2 iterations)" in text


def test_the_explain_section_marks_a_solve_that_did_not_converge():
    from lbfgs_impl.commands.report.sections import section_explain

    static = {"kernels_per_iteration_total": 219, "dispatches_per_iteration": 0.5}
    doc = {"problem": "rosenbrock", "n": 100, "solvers": ["jax_scipy_bfgs", "optax_while"],
           "callgrind": {"skipped": "not counted"},
           "static": {"solvers": {"jax_scipy_bfgs": {**static, "converged": False, "n_iter": 2},
                                  "optax_while": {**static, "converged": True, "n_iter": 505}}}}  # fmt: skip
    report = ReportData("tiny", {})
    report.stages["explain"] = StageResult("explain", doc)
    text = "\n".join(section_explain(report))
    assert "| jax_scipy_bfgs (did not converge: 2 iterations) | 219 |" in text
    assert "| optax_while | 219 |" in text


def test_a_break_even_child_refuses_a_process_whose_jax_backend_already_started():
    from lbfgs_impl.commands.report import first_call

    jax.numpy.zeros(1).block_until_ready()  # this test process has a backend: not a fresh child
    spec = dict(solver="scipy", problem="rosenbrock", n=10, maxiter=100, cpu=None, cache_dir=None)
    with pytest.raises(RuntimeError, match="started a JAX backend"):
        first_call._first_call_in_child(spec)


def test_a_break_even_child_that_outlives_its_timeout_is_killed(monkeypatch):
    import multiprocessing

    from lbfgs_impl.commands.report import first_call

    monkeypatch.setattr(first_call, "CHILD_TIMEOUT_S", 0.05)  # the child cannot even compile in that
    monkeypatch.setattr(first_call, "CHILD_EXIT_GRACE_S", 0.0)  # and gets no time to exit by itself
    with pytest.raises(RuntimeError, match=r"fresh first call of optax_while failed: no answer in 0 s"):
        first_call.fresh_first_call("optax_while", "rosenbrock", 10, 100, None, None)
    assert multiprocessing.active_children() == []  # killed, not left compiling


def test_the_fork_server_preloads_every_solvers_own_library():
    from lbfgs_impl.commands.report import first_call
    from lbfgs_impl.solvers import SOLVERS

    preload = first_call.fork_server_preload()
    packages = {s.package for s in SOLVERS.values() if getattr(s, "package", "")}
    assert packages and packages <= set(preload)  # a peer added later is preloaded too
    assert preload[: len(first_call.FORK_SERVER_BASE)] == list(first_call.FORK_SERVER_BASE)
    assert len(preload) == len(set(preload))


def test_a_break_even_child_is_a_fresh_process_with_imports_done():
    from lbfgs_impl.commands.report import first_call

    out = first_call.fresh_first_call("optax_while", "rosenbrock", 10, 10_000, None, None)
    assert out["backend_compiles"] >= 1 and out["cache_hits"] == 0 and out["converged"]
    assert out["first_call_s"] > 0


def test_scaling_keeps_the_seed_cases_compiled_solves_and_explain_reads_them_without_compiling():
    from lbfgs_impl.commands.explain.static import solver_static
    from lbfgs_impl.measure.timing import count_compilations

    keep: dict = {}
    cases = (BenchCase("rosenbrock", 10, 10_000), BenchCase("logistic", 10))
    rows = stages.scaling(cases, 1, lambda m: None, solvers=["optax_while"], keep=keep,
                          keep_case=("rosenbrock", 10, 10_000))  # fmt: skip
    assert list(keep) == ["optax_while"] and len(rows) == 2  # the kept case only
    _, result = keep["optax_while"]
    assert result.n_iter == rows[0]["n_iter"]
    problem, config = cases[0].make_problem(), cases[0].config()
    with count_compilations() as log:
        reused = solver_static("optax_while", problem, config, keep["optax_while"])
    assert log.n_compilations == 0  # the static figures read the kept executable
    assert reused == solver_static("optax_while", problem, config)  # the same figures as a fresh compile
