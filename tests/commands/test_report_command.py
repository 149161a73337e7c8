"""`lbfgs-bench report`: every file on a tiny plan, the derived figures on known inputs, failures kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from lbfgs_impl.cases import BenchCase
from lbfgs_impl.commands.report import stages
from lbfgs_impl.commands.report.build import build_report
from lbfgs_impl.commands.report.document import crossovers
from lbfgs_impl.commands.report.plans import TINY
from lbfgs_impl.solvers import SolverConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "scaling_time.png",
    "speedup.png",
    "floor.png",
    "break_even.png",
    "batched.png",
    "convergence.png",
    "robustness_profile.png",
}


#: a problem from the user's code, measured beside the plan's cases (``report --problem``)
USER_PROBLEM = "lbfgs_bench_report_user:f"


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    user = tmp_path_factory.mktemp("user")
    (user / "lbfgs_bench_report_user.py").write_text(
        "import jax.numpy as jnp\n\n\ndef f(x):\n    return jnp.sum((x - 1.0) ** 2) + 0.1 * jnp.sum(x**4)\n"
    )
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(user)) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "report", "--plan", "tiny", "--problem", USER_PROBLEM,
         "--n", "6", str(out)],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    return proc, out


def test_tiny_report_writes_every_file(tiny_report):
    proc, out = tiny_report
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == FIGURES | {"report.md", "report.json", "explain"}
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 15_000, name
    text = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name})" in text
    lines = re.split(r"[\r\n]", proc.stderr)
    for stage in ("scaling", "floor", "break-even", "batched", "convergence", "robustness", "explain"):
        # one progress bar per stage, run to its end: "<stage padded to 12>: 100%|"
        assert any(re.match(rf"{re.escape(f'{stage:12s}')}: 100%\|", line) for line in lines), stage
    assert "wrote " in proc.stdout


def test_tiny_report_embeds_explains_static_part_and_says_why_the_counts_are_not_there(tiny_report):
    _, out = tiny_report
    doc = json.loads((out / "report.json").read_text())["stages"]["explain"]["data"]
    first = TINY.scaling[0]
    assert (doc["problem"], doc["n"]) == (first.problem, first.n)
    assert doc["callgrind"]["skipped"].startswith("not counted in this plan")
    assert (
        f"lbfgs-bench explain --problem {first.problem} --n {first.n} --maxiter {first.maxiter} --solvers"
        in doc["callgrind"]["skipped"]
    )
    assert (out / "explain" / "explain.md").exists() and (out / "explain" / "explain_kernels.png").exists()
    text = (out / "report.md").read_text()
    assert f"## 7. Where an iteration goes on the seed case ({first.problem} n={first.n})" in text
    assert "Instruction breakdown: not counted in this plan" in text
    assert "](explain/explain_kernels.png)" in text and "](explain/explain_categories.png)" not in text
    for solver in ("scipy", "optax_loop", "optax_while", *TINY.peers):
        kernels = doc["static"]["solvers"][solver]["kernels_per_iteration_total"]
        assert f"| {solver} | {kernels:.0f} |" in text


def test_tiny_report_json_holds_every_stage_and_the_machine(tiny_report):
    _, out = tiny_report
    doc = json.loads((out / "report.json").read_text())
    assert doc["plan"] == "tiny"
    assert doc["meta"]["versions"]["jax"] and doc["meta"]["pinning"]["pinned"] is True
    assert set(doc["stages"]) == {
        "scaling", "floor", "break_even", "batched", "convergence", "robustness", "explain"
    }  # fmt: skip
    assert all(s["error"] == "" for s in doc["stages"].values())
    scaling = doc["stages"]["scaling"]["data"]
    cases = {(c.problem, c.n) for c in TINY.scaling} | {(USER_PROBLEM, 6)}
    assert {(r["problem"], r["n"]) for r in scaling} == cases
    # the first call compiled what the steady rounds then ran (a count, deterministic), not "first call >
    # one steady sample" (a preempted sample of the tiny plan's single steady round could exceed it)
    assert all(r["first_call_compilations"] >= 1 and r["steady_s"] > 0 for r in scaling)
    be = doc["stages"]["break_even"]["data"]
    assert {r["solver"] for r in be} == set(TINY.break_even_solvers)
    assert all(r["samples"] == TINY.first_call_samples >= 3 for r in be)
    assert all(h == 0 for r in be for h in r["cold_cache_hits"])  # the cache was off
    assert all(h >= 1 for r in be for h in r["warm_cache_hits"])  # the warm cache served the executables
    assert all(r["warm_cache_hits"] == r["warm_backend_compiles"] for r in be)  # all of them
    batch = doc["stages"]["batched"]["data"]
    assert [r["B"] for r in batch] == list(TINY.batch_sizes)
    assert all(r["converged_members"] == r["B"] for r in batch)
    for peer in TINY.peers:  # batched on the same points; jaxopt's solve vmaps
        got = [r["peers"][peer] for r in batch]
        assert all(
            g["converged_members"] == g["converged_sequential_jit"] == r["B"]
            for g, r in zip(got, batch, strict=True)
        )
        # how many members took as many iterations vmapped as alone is a finding, not an invariant: XLA
        # compiles the batched loop into other kernels, whose rounding may differ in the last bit, and
        # L-BFGS on Rosenbrock turns that into a few iterations more or fewer (on jax 0.4.38 none of
        # the members matched, though every one converged both ways)
        for g, r in zip(got, batch, strict=True):
            assert 0 <= g["same_iterations_vmap_vs_sequential"] <= r["B"]
            assert 1 <= g["member_iterations_min"] <= g["member_iterations_max"] < SolverConfig().maxiter
            assert g["vmap_s"] > 0 and g["sequential_jit_s"] > 0
    # scaling timed each compiled first call's solve TINY.steady_repeats times (no budget in this plan)
    assert all(r["steady_samples"] == TINY.steady_repeats for r in scaling)
    # robustness: one traced solve per (problem, solver), nothing timed, the suite's rule applied
    robust = doc["stages"]["robustness"]["data"]
    assert robust["meta"]["timed"] is False
    assert {(r["problem"], r["solver"]) for r in robust["runs"]} == {
        (p, s) for p in TINY.robustness_problems for s in TINY.robustness_solvers
    }
    for r in robust["runs"]:
        assert r["steady_s"] is None and r["error"] == "" and r["traced_fev"] >= r["n_iter"] >= 1
        assert r["solved"] and r["fev_to_success"]["1e-05"] <= r["traced_fev"]  # both solve these two
    text = (out / "report.md").read_text()
    assert "Nothing in this section is timed" in text
    # the compiled loop's trace is the Python loop's path, and says so in the JSON
    traces = doc["stages"]["convergence"]["data"]
    assert traces["optax_while"]["reconstructed_from"] == "optax_loop"
    assert traces["optax_while"]["loss"] == traces["optax_loop"]["loss"]
    assert all("reconstructed_from" not in traces[s] for s in ("scipy", "optax_loop"))
    assert "Reconstructed, not observed: optax_while" in text


def test_overhead_ratio_and_crossover_on_known_inputs():
    assert stages.overhead_ratio(7e-6, 0.175e-6, 0.0) == pytest.approx(40.0)
    # speedup 4 -> 2 -> 0.5 over n = 10, 100, 1000: through 1 at sqrt(100 * 1000) in log-log
    assert stages.crossover_n([(10, 4.0), (100, 2.0), (1000, 0.5)]) == pytest.approx(
        1000**1.5 / 100, rel=1e-9
    )
    assert stages.crossover_n([(10, 4.0), (100, 2.0)]) is None
    rows = [
        {"problem": "p", "n": n, "solver": s, "steady_s": t}
        for n, ts in ((10, (1.0, 0.25)), (100, (1.0, 0.5)), (1000, (1.0, 2.0)))
        for s, t in zip(("scipy", "optax_while"), ts, strict=True)
    ]
    assert crossovers(rows)["p"]["optax_while"] == pytest.approx(1000**1.5 / 100, rel=1e-9)


def test_cache_directory_is_removed_even_when_a_stage_fails(tmp_path):
    case = BenchCase("no_such_problem", 10)
    with pytest.raises(RuntimeError, match="fresh first call of scipy failed"):
        stages.break_even([case], [], None, lambda msg: None, cache_root=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_stage_is_recorded_and_the_report_still_written(tmp_path):
    def broken():
        raise ValueError("this stage broke")

    report, written = build_report(
        tmp_path,
        TINY,
        pinning={"pinned": False},
        progress=lambda msg: None,
        stages={"scaling": broken, "floor": lambda: [stages.evaluation_floor("rosenbrock", 10, count=10)]},
    )
    assert report.stages["scaling"].error.startswith("ValueError: this stage broke")
    assert report.ok("floor")
    text = (tmp_path / "report.md").read_text()
    assert "## scaling: stage failed" in text and "this stage broke" in text
    assert "## 2. The floor" in text
    assert "](floor.png)" not in text  # the floor figure needs the scaling stage: not drawn, not linked
    assert [p.name for p in written] == ["report.json", "report.md"]


def test_tiny_report_has_the_peers_scipy_warm_and_the_full_floor(tiny_report):
    _, out = tiny_report
    doc = json.loads((out / "report.json").read_text())
    scaling = doc["stages"]["scaling"]["data"]
    assert {r["solver"] for r in scaling} == {"scipy", "optax_loop", "optax_while", *TINY.peers}
    assert all(r["peer"] == (r["solver"] in TINY.peers) for r in scaling)
    for r in doc["stages"]["break_even"]["data"]:
        assert r["scipy_warm_first_call_s"] > 0 and len(r["scipy_warm_spread_s"]) == 2
        assert r["cold_spread_s"][0] <= r["cold_first_call_s"] <= r["cold_spread_s"][1]
    assert all(f["point"] == "x0 + 0.5" for f in doc["stages"]["floor"]["data"])
    batch = doc["stages"]["batched"]["data"]
    assert all(r["converged_scipy"] == r["converged_sequential_jit"] == r["B"] for r in batch)
    assert all(r["repeats"] == TINY.batch_repeats for r in batch)
    text = (out / "report.md").read_text()
    for peer in TINY.peers:
        assert f"| {peer} (peer) |" in text


def test_tiny_report_measures_the_users_problem_beside_its_cases(tiny_report):
    _, out = tiny_report
    doc = json.loads((out / "report.json").read_text())
    mine = [r for r in doc["stages"]["scaling"]["data"] if r["problem"] == USER_PROBLEM]
    assert {r["solver"] for r in mine} == {"scipy", "optax_loop", "optax_while", *TINY.peers}
    assert all(r["n"] == 6 and r["converged"] and r["steady_s"] > 0 for r in mine)
    assert all(r["problem_origin"]["kind"] == "module" for r in mine)
    theirs = [r for r in doc["stages"]["scaling"]["data"] if r not in mine]
    assert theirs and all(r["problem_origin"]["kind"] == "built-in" for r in theirs)
    assert any(r["problem"] == USER_PROBLEM and r["n"] == 6 for r in doc["stages"]["break_even"]["data"])
