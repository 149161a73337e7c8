"""Every measurement of ``lbfgs-bench pitfalls``, in one process, cold parts first.

The correct figures (references) come from the measurement core: ``optax_while`` and
``optax_loop`` AOT-compiled (their first calls timed with :func:`~lbfgs_impl.measure.timing.cold_start`
after :func:`~lbfgs_impl.measure.timing.clear_jax_caches`), ``scipy`` with its jitted
value_and_grad, each blocked and with zero compilations in its timed region. Each pitfall
row runs the same code the wrong way and names the reference it is compared with.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jax

from lbfgs_impl.commands.pitfalls import closures, loops, scipy_variants
from lbfgs_impl.commands.pitfalls.floor import measure_floor, solve_floor
from lbfgs_impl.commands.pitfalls.rows import ROWS, build_row
from lbfgs_impl.measure.timing import (
    assert_no_compilations,
    clear_jax_caches,
    cold_start,
    measure_steady,
    prepare_compiled,
)
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import Result, SolverConfig, get_solver


@dataclass(frozen=True)
class Plan:
    """How much each measurement repeats."""

    name: str
    repeats: int  # timed samples of each steady, unblocked and SciPy measurement
    calls: int  # calls of each recompiling closure
    eager_iterations: int  # iterations of the eager loop before it is stopped and extrapolated
    scipy_eager_iterations: int  # the same for L-BFGS-B on the un-jitted objective
    floor_target_s: float  # seconds of each floor loop


PLANS = {
    "full": Plan(
        "full", repeats=5, calls=2, eager_iterations=2, scipy_eager_iterations=40, floor_target_s=0.05
    ),
    "quick": Plan(
        "quick", repeats=3, calls=2, eager_iterations=2, scipy_eager_iterations=20, floor_target_s=0.02
    ),
    # the tests'
    "tiny": Plan(
        "tiny", repeats=2, calls=2, eager_iterations=2, scipy_eager_iterations=10, floor_target_s=0.005
    ),
}


def _outcome(result: Result) -> dict[str, Any]:
    return {
        "n_iter": result.n_iter,
        "n_fev": result.n_fev,
        "converged": result.converged,
        "status": result.status,
    }


def _reference(title: str, samples: list[float], result: Result | dict[str, Any], compilations: int) -> dict:
    outcome = _outcome(result) if isinstance(result, Result) else result
    return {
        "title": title,
        "seconds": statistics.median(samples),
        "samples": samples,
        "n_compilations": compilations,
        **outcome,
    }


def _paired_while(prepared: Any, repeats: int) -> tuple[list[float], list[float], Any]:
    """Per run: the clock when ``launch()`` returned, and again when its result was ready."""
    prepared.run()  # warm
    unblocked, blocked = [], []
    with assert_no_compilations("the optax_while runs"):
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = prepared.launch()
            t1 = time.perf_counter()
            jax.block_until_ready(out)
            t2 = time.perf_counter()
            unblocked.append(t1 - t0)
            blocked.append(t2 - t0)
    return unblocked, blocked, out


class _Run:
    """One run's problem, plan, references and rows, filled part by part (cold parts first)."""

    def __init__(self, problem: Any, config: SolverConfig, plan: Plan, progress: Callable[[str], None]):
        self.problem, self.config, self.plan, self.progress = problem, config, plan, progress
        self.label = f"{problem.name}(n={problem.n})"
        self.refs: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []
        self.floor: dict[str, Any] = {}

    def add(self, key: str, measured: dict[str, Any]) -> None:
        self.rows.append(build_row(key, measured, self.refs))

    def optax_part(self) -> None:
        """First calls (caches cleared), then steady and unblocked optax_while, steady optax_loop."""
        problem, config, plan = self.problem, self.config, self.plan
        self.progress(f"{self.label}: first calls of optax_while and optax_loop (caches cleared)")
        clear_jax_caches()
        first_while, result_while, prepared_while = cold_start(get_solver("optax_while"), problem, config)
        clear_jax_caches()
        first_loop, result_loop, prepared_loop = cold_start(get_solver("optax_loop"), problem, config)
        self.progress(f"{self.label}: optax_while and optax_loop steady, the while_loop also unblocked")
        unblocked, blocked, out = _paired_while(prepared_while, plan.repeats)
        self.refs["while"] = _reference(
            "optax_while: AOT-compiled while_loop solve, blocked", blocked, prepared_while.result(out), 0
        )
        stats, results = measure_steady({"optax_loop": prepared_loop}, repeats=plan.repeats)
        self.refs["loop"] = _reference(
            "optax_loop: AOT-compiled step, host loop, blocked",
            stats["optax_loop"].times_s,
            results["optax_loop"],
            0,
        )
        self.progress(f"{self.label}: the floor (one evaluation, one two-loop recursion)")
        self.floor = measure_floor(problem.name, problem.n, config.memory_size, plan.floor_target_s)
        ref = self.refs["while"]
        self.add(
            "async_while",
            {"seconds": statistics.median(unblocked), "samples": unblocked, "n_compilations": 0}
            | {k: ref[k] for k in ("n_iter", "n_fev", "converged", "status")}
            | {"floor_s": solve_floor(self.floor, ref["n_iter"], ref["n_fev"])},
        )
        for key, sample, result in (
            ("first_call_while", first_while, result_while),
            ("first_call_loop", first_loop, result_loop),
        ):
            fields = {
                "seconds": sample.total_s,
                "samples": [sample.total_s],
                "n_compilations": sample.n_compilations,
            }
            stages = {
                "compile_s": sample.compile_s,
                "trace_lower_s": sample.trace_lower_s,
                "run_s": sample.run_s,
            }
            self.add(key, fields | _outcome(result) | stages)

    def loop_part(self) -> None:
        """The step loop jitted anew, then the same step unblocked (its executable cached), then eager."""
        problem, config, plan = self.problem, self.config, self.plan
        self.progress(f"{self.label}: the step loop jitted anew every iteration, unblocked, and eager")
        init, step = loops.make_step(problem.objective, config.memory_size)
        self.add("jit_anew", loops.jit_anew(init, step, problem, config))
        steps = loops.unblocked_steps(init, step, problem, self.refs["loop"]["n_iter"], plan.repeats)
        fixed = self.refs["loop_fixed"] = _reference(
            f"the same jitted step {steps['n_iter']} times, no host sync, blocked at the end",
            steps["blocked"],
            {"n_iter": steps["n_iter"], "n_fev": steps["n_fev"], "converged": None, "status": "fixed count"},
            steps["log"].n_compilations,
        )
        self.add(
            "async_steps",
            {"seconds": statistics.median(steps["unblocked"]), "samples": steps["unblocked"]}
            | {k: fixed[k] for k in ("n_iter", "n_fev", "converged", "status", "n_compilations")}
            | {"floor_s": solve_floor(self.floor, fixed["n_iter"], fixed["n_fev"])},
        )
        finish = self.refs["loop"]["n_iter"]
        self.add("eager", loops.eager(init, step, problem, config, plan.eager_iterations, finish))

    def closure_part(self) -> None:
        self.progress(f"{self.label}: solves that recompile every call ({self.plan.calls} calls each)")
        self.add("new_function", closures.new_function_per_call(self.problem, self.config, self.plan.calls))
        self.add("static_scalar", closures.scalar_per_call(self.problem, self.config, self.plan.calls))

    def scipy_part(self) -> None:
        problem, config = self.problem, self.config
        self.progress(f"{self.label}: SciPy L-BFGS-B, correct and three variants, round-robin")
        prepared = prepare_compiled(get_solver("scipy"), problem, config)
        check = jax.jit(jax.value_and_grad(problem.objective))

        def at(x: Any) -> Any:
            return check(x, problem.data)

        samples, raw, variants = scipy_variants.measure_scipy(
            problem, config, prepared, self.plan.repeats, at
        )
        self.refs["scipy"] = _reference(
            "scipy: L-BFGS-B, value_and_grad AOT-compiled in float64", samples, prepared.result(raw), 0
        )
        cap, finish = self.plan.scipy_eager_iterations, self.refs["scipy"]["n_fev"]
        self.add("scipy_not_jitted", scipy_variants.not_jitted(problem, config, cap, finish, at))
        for kind, variant in variants.items():
            self.add(f"scipy_{kind}", variant)


def measure(
    problem_name: str, n: int, config: SolverConfig, plan: Plan, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Every reference and pitfall row (rows in :data:`~.rows.ROWS`' order); see the module docstring."""
    started = time.perf_counter()
    run = _Run(make_problem(problem_name, n), config, plan, progress)
    run.optax_part()
    run.loop_part()
    run.closure_part()
    run.scipy_part()
    order = list(ROWS)
    return {
        "problem": problem_name,
        "n": n,
        "config": config._asdict(),
        "plan": asdict(plan),
        "references": run.refs,
        "floor": run.floor,
        "rows": sorted(run.rows, key=lambda row: order.index(row["key"])),
        "measure_s": time.perf_counter() - started,
    }
