"""The asv suite: configuration, a quick run in this environment, and honest track_ figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, solve

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import CASES, parse_case  # noqa: E402
from benchmarks.lbfgs import SOLVERS, Quality  # noqa: E402


def strip_json_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def test_asv_conf_sets_what_this_repo_needs():
    conf = json.loads(strip_json_comments((ROOT / "asv.conf.json").read_text()))
    assert conf["repo"] == "." and conf["branches"] == ["main"]
    assert conf["environment_type"] == "virtualenv"
    assert "--no-deps" in conf["build_command"][0] and "--no-deps" in conf["install_command"][0]
    optax_versions = conf["matrix"]["req"]["optax"]
    assert "" in optax_versions and "0.2.4" in optax_versions
    for key in ("env_dir", "results_dir", "html_dir"):
        assert conf[key].startswith(".asv/")
    assert conf["regressions_thresholds"]["lbfgs\\.Quality\\.track_(iterations|fg_evals)"] == 0.0
    assert ".asv/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.fixture(scope="module")
def asv_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, HOME=str(home))
    asv = [sys.executable, "-m", "asv"]
    proc = subprocess.run([*asv, "machine", "--yes"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return asv, env


def test_asv_check_passes(asv_env):
    asv, env = asv_env
    proc = subprocess.run(
        [*asv, "check", "-E", "existing:same"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def test_quick_asv_run_in_this_environment_passes(asv_env):
    """Every benchmark of the suite runs under asv, on the smoke grid (the full grid: the tests below)."""
    asv, env = asv_env
    proc = subprocess.run(
        [*asv, "run", "-E", "existing:same", "--quick", "--show-stderr"],
        cwd=ROOT,
        env=dict(env, LBFGS_BENCH_ASV_SMOKE="1"),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    ran = re.findall(r"··· ((?:lbfgs|mgh)\.\S+)\s+(\w+)", out)
    assert {name for name, _ in ran} >= {
        "lbfgs.SteadyState.time_solve",
        "lbfgs.FirstCall.time_first_call",
        "lbfgs.ColdStart.timeraw_cold_start",
        "lbfgs.Quality.track_iterations",
        "lbfgs.Quality.track_fg_evals",
        "lbfgs.Quality.track_grad_inf_norm",
        "lbfgs.Quality.track_compile_seconds",
        "lbfgs.Memory.peakmem_solve",
        "lbfgs.Instructions.track_instructions",
        "lbfgs.Instructions.track_instructions_total",
        "lbfgs.Instructions.track_thread_pool_share",
        "mgh.Robustness.track_problems_failed",
        "mgh.Robustness.track_iterations",
        "mgh.Robustness.track_fg_evals",
    }
    assert all(status == "ok" for _, status in ran), ran
    # The smoke grid (benchmarks/__init__.py), one point per class: what keeps this run short.
    assert "rosenbrock-10 " in out and "rosenbrock-100" not in out and "optax_loop" not in out


def test_steady_state_benchmark_runs_compile_free_on_every_grid_point():
    """The full grid the smoke run above leaves out: SteadyState's setup and timed call, in this process."""
    from benchmarks.lbfgs import SteadyState

    assert "rosenbrock-100" in CASES and "scipy" in SOLVERS  # the full grid, not the smoke one
    for solver in SOLVERS:
        for case in CASES:
            bench = SteadyState()
            bench.setup(solver, case)
            bench.time_solve(solver, case)  # raises if anything compiles inside the timed call


def test_track_figures_equal_what_lbfgs_impl_returns():
    quality = Quality()
    figures = quality.setup_cache()
    assert set(figures) == {(s, c) for s in SOLVERS for c in CASES}
    for solver in SOLVERS:
        for case in CASES:
            quality.setup(figures, solver, case)
            name, n = parse_case(case)
            result = solve(solver, make_problem(name, n), SolverConfig())
            assert quality.track_iterations(figures, solver, case) == result.n_iter
            assert quality.track_fg_evals(figures, solver, case) == result.n_fev
            assert quality.track_grad_inf_norm(figures, solver, case) == result.grad_inf_norm
            assert quality.track_compile_seconds(figures, solver, case) > 0
    for method in ("track_iterations", "track_fg_evals", "track_grad_inf_norm", "track_compile_seconds"):
        assert getattr(Quality, method).unit


def test_asv_instruction_figures_are_medians_of_3_processes_with_total_and_share(monkeypatch):
    """The counter itself has its own tests (tests/measure); here: what asv asks of it and reports."""
    import benchmarks.lbfgs as suite
    from lbfgs_impl.measure.instructions import InstructionCounts, InstructionReport, InstructionTask

    asked = {}

    def counted(tasks, *, repeats):
        asked["repeats"] = repeats
        counts = {}
        for t in tasks:
            c = InstructionCounts(t, solve=[90, 100, 95], solve_total=[120, 130, 125])
            counts[t.key] = c
        return InstructionReport(counts, {})

    monkeypatch.setattr(suite, "_instruction_counter", lambda: (InstructionTask, counted))
    bench = suite.Instructions()
    figures = bench.setup_cache()
    assert asked["repeats"] >= 3
    solver, case = SOLVERS[0], CASES[0]
    bench.setup(figures, solver, case)
    assert bench.track_instructions(figures, solver, case) == 95
    assert bench.track_instructions_total(figures, solver, case) == 125
    assert bench.track_thread_pool_share(figures, solver, case) == pytest.approx(30 / 125)


def test_unknown_solver_is_skipped_not_failed():
    from benchmarks import make_case

    with pytest.raises(NotImplementedError, match="valid solvers"):
        make_case("not_a_solver", "rosenbrock-100")
    with pytest.raises(NotImplementedError):
        Quality().setup({}, "scipy", "rosenbrock-100")


def test_asv_conf_links_no_made_up_project_url():
    conf = json.loads(strip_json_comments((ROOT / "asv.conf.json").read_text()))
    assert "project_url" not in conf  # asv links it from every page; there is no public home to point at


#: the last commit before the reorganisation moved lbfgs_impl.instructions to lbfgs_impl.measure/
PRE_MOVE_COMMIT = "4855aee451"


@pytest.mark.parametrize("where", ["pre-move commit", "this checkout"])
def test_benchmarks_import_the_instruction_counter_from_old_and_new_layouts(where, tmp_path):
    """asv runs today's benchmarks/ against old commits: the counter import must resolve on both."""
    package_root = ROOT
    if where == "pre-move commit":
        found = subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-e", f"{PRE_MOVE_COMMIT}^{{commit}}"], capture_output=True
        )
        if found.returncode != 0:
            pytest.skip(f"commit {PRE_MOVE_COMMIT} not in this clone (shallow?)")
        package_root = tmp_path / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(package_root), PRE_MOVE_COMMIT],
            check=True,
            capture_output=True,
        )
        assert (package_root / "lbfgs_impl" / "instructions.py").exists()
        assert not (package_root / "lbfgs_impl" / "measure").exists()
    try:
        probe = (
            # today's benchmarks first, then the package of the measured commit
            "import sys; sys.path[:0] = [sys.argv[2], sys.argv[1]]\n"
            "from benchmarks.lbfgs import _instruction_counter\n"
            "task, measure = _instruction_counter()\n"
            "import lbfgs_impl; assert lbfgs_impl.__file__.startswith(sys.argv[1]), lbfgs_impl.__file__\n"
            "print(measure.__module__, task.__name__)\n"
        )
        benchmarks_root = tmp_path / "bench"
        benchmarks_root.mkdir()
        (benchmarks_root / "benchmarks").symlink_to(ROOT / "benchmarks")
        out = subprocess.run(
            [sys.executable, "-c", probe, str(package_root), str(benchmarks_root)],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        assert out.returncode == 0, out.stderr[-2000:]
        old = where == "pre-move commit"
        # this checkout counts through the Dask entry point (LocalCluster or $LBFGS_BENCH_SCHEDULER)
        expected = "lbfgs_impl.instructions" if old else "lbfgs_impl.measure.cluster"
        assert out.stdout.split() == [expected, "InstructionTask"]
    finally:
        if where == "pre-move commit":
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(package_root)])


def test_cold_start_is_cold_even_with_a_persistent_cache_configured(tmp_path):
    from benchmarks.lbfgs import ColdStart

    cache = tmp_path / "xla-cache"
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache))
    env.update(JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    code = ColdStart().timeraw_cold_start("optax_while", "quadratic-5")
    for _ in range(2):  # a second interpreter would load the first one's executables
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert not cache.exists() or not any(cache.iterdir())  # nothing written, so nothing could be read
