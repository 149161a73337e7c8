"""Shared fixtures: the seed case (Rosenbrock n=100) solved once per seed variant (peers: test_peers.py).

Also how the suite spreads over the machine's CPUs (pytest-xdist): see :func:`pytest_cmdline_main`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: At most this many pytest-xdist workers: the suite's critical path is its longest file, not its size.
MAX_WORKERS = 4

#: The CPUs this run started with (a worker then pins itself to one of them).
RUN_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _pin_this_worker() -> None:
    """Keep an xdist worker, and every process it starts, on a CPU of its own.

    The commands pin their timing process to the first CPU they may use; without this, every
    worker's end-to-end runs would share CPU 0 and time each other. Done before JAX starts its
    backend, which sizes its thread pool from the affinity.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and len(RUN_CPUS) > 1:
        os.sched_setaffinity(0, {RUN_CPUS[int(worker[2:]) % len(RUN_CPUS)]})
    # The perf suites these tests start are pytest runs of their own: seeing xdist's variables,
    # pytest-benchmark would take them for xdist workers and write no JSON.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        os.environ.pop(name, None)


_pin_this_worker()

import lbfgs_impl  # noqa: E402, F401  (turns on float64 before any array is made)
from lbfgs_impl.problems import Problem, make_problem  # noqa: E402
from lbfgs_impl.solvers import SEED_SOLVERS, Result, SolverConfig, solve  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Run the suite (or a folder of it) on every CPU: one pytest-xdist worker per CPU, at most 4.

    Only where nothing was said about distribution (no ``-n``/``--dist``/``--tx``), xdist is installed,
    no ``--pdb``/``--collect-only``, and every argument is a folder (no arguments: the ``tests`` folder):
    naming files or tests runs them in this process, as does ``-n 0``. Whole files go to one worker
    (``--dist loadfile``), so a module's expensive fixture (a tiny report, an asv run) is built once.
    """
    opt = config.option
    if getattr(opt, "numprocesses", 0) is not None or getattr(opt, "tx", None) or opt.dist != "no":
        return
    if hasattr(config, "workerinput") or opt.usepdb or opt.collectonly:
        return  # a worker, or an interactive run
    if not all(Path(arg).is_dir() for arg in config.args):
        return
    workers = min(len(RUN_CPUS), MAX_WORKERS)
    if workers > 1:
        opt.numprocesses, opt.dist = workers, "loadfile"


@pytest.fixture
def run_cpus() -> Iterator[list[int]]:
    """Every CPU this run started with, given back to the test's thread (a worker is pinned to one).

    For tests about pinning; the worker's own CPU is restored afterwards (on every thread).
    """
    if not RUN_CPUS:
        pytest.skip("this platform has no CPU affinity")
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, RUN_CPUS)
    yield RUN_CPUS
    from lbfgs_impl.measure.timing import _set_affinity_all_threads

    _set_affinity_all_threads(own)


@pytest.fixture(scope="session")
def seed_problem() -> Problem:
    return make_problem("rosenbrock", 100)


@pytest.fixture(scope="session")
def seed_results(seed_problem: Problem) -> dict[str, Result]:
    return {name: solve(name, seed_problem, SolverConfig()) for name in SEED_SOLVERS}


@pytest.fixture(params=SEED_SOLVERS)
def solver_name(request: pytest.FixtureRequest) -> str:
    return request.param
