"""pytest-benchmark suite for the L-BFGS variants (``pytest perf``).

Options added here:

* ``--perf-size quick|full``: the grid (:mod:`lbfgs_impl.cases`); quick by default;
* ``--perf-cpu N|none``: the CPU the whole run is pinned to (default: the first
  CPU this process may use), set before JAX starts its thread pool;
* ``--perf-solvers A,B``: the solvers (registered names, plugins' included, or
  ``module:attr``) instead of the grid's;
* ``--perf-problem NAME --perf-n N``: one case, the problem by name or ``module:attr``,
  instead of the grid.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from lbfgs_impl.cases import ALL_SOLVER_SIZES, SIZES, BenchCase, cases_for
from lbfgs_impl.commands.common import UsageError, parse_solvers
from lbfgs_impl.measure.cluster import count_instructions
from lbfgs_impl.measure.environment import collect_meta
from lbfgs_impl.measure.instructions import InstructionReport, InstructionTask
from lbfgs_impl.measure.timing import pinned
from lbfgs_impl.problems import Problem, make_problem
from lbfgs_impl.solvers import SEED_SOLVERS, solver_names

_pin_stack = pytest.StashKey[contextlib.ExitStack]()
_pinning = pytest.StashKey[dict[str, Any]]()

BASELINE_HINT = "make one first with: pytest perf --benchmark-autosave"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lbfgs-bench perf")
    group.addoption(
        "--perf-size",
        default="quick",
        choices=sorted(SIZES),
        help="benchmark grid: quick (seed case + one more, ~2 min), full (n sweep, <15 min) or mgh "
        "(the Moré-Garbow-Hillstrom set, every solver, steady phase only)",
    )
    group.addoption(
        "--perf-first-call-rounds",
        type=int,
        default=3,
        help="cold rounds per first-call benchmark (default: 3; >= 5 lets a rank test see a change)",
    )
    group.addoption(
        "--perf-instructions",
        action="store_true",
        help="also count each steady solve's instructions under callgrind (stored in extra_info; "
        "machine-independent; skipped with the reason when valgrind or a C compiler is missing)",
    )
    group.addoption(
        "--perf-instructions-repeats",
        type=int,
        default=3,
        help="processes per benchmark for --perf-instructions (default: 3)",
    )
    group.addoption(
        "--perf-solvers",
        help="comma-separated solvers (names, installed plugins' included, or module:attr) instead of "
        "the grid's",
    )
    group.addoption(
        "--perf-problem",
        help="one problem (a name or module:attr) instead of the grid; its size from --perf-n",
    )
    group.addoption("--perf-n", type=int, help="dimension for --perf-problem (default: the problem's own)")
    group.addoption(
        "--perf-cpu",
        default="first",
        help="pin the run to this CPU ('first' allowed CPU by default, 'none' to not pin)",
    )


def _cpu_option(value: str) -> int | None:
    if value == "none":
        return None
    if value == "first":
        return -1
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(
            f"--perf-cpu expects a CPU number, 'first' or 'none', got {value!r}"
        ) from None


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's own, terser, check
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("benchmark_compare_fail", None) and not config.getoption("benchmark_compare", None):
        raise pytest.UsageError(
            "--benchmark-compare-fail needs --benchmark-compare (it gates against the latest saved run); "
            + BASELINE_HINT
        )
    # Pin before any JAX computation: XLA sizes its thread pool when it starts.
    stack = contextlib.ExitStack()
    try:
        config.stash[_pinning] = stack.enter_context(pinned(_cpu_option(config.getoption("perf_cpu"))))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_pin_stack] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    if _pin_stack in config.stash:
        config.stash[_pin_stack].close()


def pytest_sessionstart(session: pytest.Session) -> None:
    bench = getattr(session.config, "_benchmarksession", None)
    if bench is None or not bench.compare or bench.disabled:
        return
    selector = None if bench.compare is True else bench.compare
    if list(bench.storage.load(selector) if selector else bench.storage.load()):
        return
    what = "no saved benchmark run" if selector is None else f"no saved benchmark run matching {selector!r}"
    message = f"--benchmark-compare: {what} in {bench.storage}; {BASELINE_HINT}"
    if bench.compare_fail:  # a gate with nothing to compare against must not pass silently
        raise pytest.UsageError(message)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, yellow=True)


def _selected_cases(config: pytest.Config) -> tuple[BenchCase, ...]:
    spec = config.getoption("perf_problem")
    if not spec:
        return cases_for(config.getoption("perf_size"))
    try:
        problem = make_problem(spec, config.getoption("perf_n"))  # built and checked before collecting
    except ValueError as exc:
        raise pytest.UsageError(f"--perf-problem: {exc}") from None
    return (BenchCase(spec, problem.n),)


def _selected_solvers(config: pytest.Config) -> list[str]:
    text = config.getoption("perf_solvers")
    if text:
        try:
            return parse_solvers(text)
        except UsageError as exc:
            raise pytest.UsageError(f"--perf-solvers: {exc}") from None
    every = config.getoption("perf_size") in ALL_SOLVER_SIZES
    return solver_names() if every else list(SEED_SOLVERS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = _selected_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[c.id for c in cases], scope="module")
    if "solver_name" in metafunc.fixturenames:
        metafunc.parametrize("solver_name", _selected_solvers(metafunc.config))


@pytest.fixture(scope="session")
def perf_meta(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Versions, CPU, threads and pinning, stored in every benchmark's extra_info."""
    return collect_meta(pytestconfig.stash[_pinning])


@pytest.fixture(scope="session")
def first_call_rounds(pytestconfig: pytest.Config) -> int:
    rounds = pytestconfig.getoption("perf_first_call_rounds")
    if rounds < 1:
        raise pytest.UsageError(f"--perf-first-call-rounds must be >= 1, got {rounds}")
    return rounds


@pytest.fixture(scope="module")
def problem(case: BenchCase) -> Problem:
    return case.make_problem()


@pytest.fixture(scope="session")
def instruction_report(request: pytest.FixtureRequest) -> InstructionReport | None:
    """Instruction counts of every selected steady benchmark (``--perf-instructions``), taken once.

    The counting workers run on every CPU this run had before pinning, before any timing starts.
    """
    pytestconfig = request.config
    if not pytestconfig.getoption("perf_instructions"):
        return None
    repeats = pytestconfig.getoption("perf_instructions_repeats")
    if repeats < 1:
        raise pytest.UsageError(f"--perf-instructions-repeats must be >= 1, got {repeats}")
    pinning = pytestconfig.stash[_pinning]
    cpus = pinning.get("cpus_before") if pinning.get("pinned") else None
    selected = [
        item.callspec.params
        for item in request.session.items
        if item.name.startswith("test_steady[") and hasattr(item, "callspec")
    ]
    tasks = [
        InstructionTask(p["solver_name"], p["case"].problem, p["case"].n, p["case"].config())
        for p in selected
    ]
    report = count_instructions(tasks, repeats=repeats, cpus=cpus)  # $LBFGS_BENCH_SCHEDULER, else local
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if report.skipped and reporter is not None:
        reporter.write_line(f"--perf-instructions: skipped: {report.skipped}", yellow=True)
    return report
