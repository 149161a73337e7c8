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
from lbfgs_impl.commands.pitfalls.rows import build_row
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
    floor_target_s: float  # seconds of each floor loop


PLANS = {
    "full": Plan("full", repeats=5, calls=3, eager_iterations=3, floor_target_s=0.05),
    "quick": Plan("quick", repeats=3, calls=2, eager_iterations=2, floor_target_s=0.02),
    "tiny": Plan("tiny", repeats=2, calls=2, eager_iterations=2, floor_target_s=0.005),  # the tests'
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


def measure(
    problem_name: str, n: int, config: SolverConfig, plan: Plan, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Every reference and pitfall row; see the module docstring."""
    problem = make_problem(problem_name, n)
    label = f"{problem_name}(n={n})"
    refs: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()

    progress(f"{label}: first calls of optax_while and optax_loop (caches cleared)")
    clear_jax_caches()
    first_while, result_while, prepared_while = cold_start(get_solver("optax_while"), problem, config)
    clear_jax_caches()
    first_loop, result_loop, prepared_loop = cold_start(get_solver("optax_loop"), problem, config)

    progress(f"{label}: optax_while and optax_loop steady, the while_loop also unblocked")
    unblocked, blocked, out = _paired_while(prepared_while, plan.repeats)
    refs["while"] = _reference(
        "optax_while: AOT-compiled while_loop solve, blocked", blocked, prepared_while.result(out), 0
    )
    stats, results = measure_steady({"optax_loop": prepared_loop}, repeats=plan.repeats)
    refs["loop"] = _reference(
        "optax_loop: AOT-compiled step, host loop, blocked",
        stats["optax_loop"].times_s,
        results["optax_loop"],
        0,
    )

    progress(f"{label}: the floor (one evaluation, one two-loop recursion)")
    floor = measure_floor(problem_name, n, config.memory_size, plan.floor_target_s)
    ref = refs["while"]
    rows.append(
        build_row(
            "async_while",
            {"seconds": statistics.median(unblocked), "samples": unblocked, "n_compilations": 0}
            | {k: ref[k] for k in ("n_iter", "n_fev", "converged", "status")}
            | {"floor_s": solve_floor(floor, ref["n_iter"], ref["n_fev"])},
            refs,
        )
    )
    for key, sample, reference in (
        ("first_call_while", first_while, "while"),
        ("first_call_loop", first_loop, "loop"),
    ):
        outcome = _outcome(result_while if reference == "while" else result_loop)
        fields = {
            "seconds": sample.total_s,
            "samples": [sample.total_s],
            "n_compilations": sample.n_compilations,
        }
        extra = {"compile_s": sample.compile_s, "trace_lower_s": sample.trace_lower_s, "run_s": sample.run_s}
        rows.append(build_row(key, fields | outcome | extra, refs))

    progress(f"{label}: the step loop jitted anew every iteration, unblocked, and eager")
    init, step = loops.make_step(problem.objective, config.memory_size)
    rows.append(build_row("jit_anew", loops.jit_anew(init, step, problem, config), refs))
    steps = loops.unblocked_steps(init, step, problem, refs["loop"]["n_iter"], plan.repeats)
    refs["loop_fixed"] = _reference(
        f"the same jitted step {steps['n_iter']} times, no host sync, blocked at the end",
        steps["blocked"],
        {"n_iter": steps["n_iter"], "n_fev": steps["n_fev"], "converged": None, "status": "fixed count"},
        steps["log"].n_compilations,
    )
    fixed = refs["loop_fixed"]
    rows.append(
        build_row(
            "async_steps",
            {"seconds": statistics.median(steps["unblocked"]), "samples": steps["unblocked"]}
            | {k: fixed[k] for k in ("n_iter", "n_fev", "converged", "status", "n_compilations")}
            | {"floor_s": solve_floor(floor, fixed["n_iter"], fixed["n_fev"])},
            refs,
        )
    )
    eager = loops.eager(init, step, problem, config, plan.eager_iterations, refs["loop"]["n_iter"])
    rows.append(build_row("eager", eager, refs))

    progress(f"{label}: solves that recompile every call ({plan.calls} calls each)")
    rows.append(build_row("new_function", closures.new_function_per_call(problem, config, plan.calls), refs))
    rows.append(build_row("static_scalar", closures.scalar_per_call(problem, config, plan.calls), refs))

    progress(f"{label}: SciPy L-BFGS-B, correct and three variants, round-robin")
    prepared_scipy = prepare_compiled(get_solver("scipy"), problem, config)
    check = jax.jit(jax.value_and_grad(problem.objective))

    def at(x: Any) -> Any:
        return check(x, problem.data)

    samples, raw, variants = scipy_variants.measure_scipy(problem, config, prepared_scipy, plan.repeats, at)
    refs["scipy"] = _reference(
        "scipy: L-BFGS-B, value_and_grad AOT-compiled in float64", samples, prepared_scipy.result(raw), 0
    )
    for kind, variant in variants.items():
        rows.append(build_row(f"scipy_{kind}", variant, refs))
    return {
        "problem": problem_name,
        "n": n,
        "config": config._asdict(),
        "plan": asdict(plan),
        "references": refs,
        "floor": floor,
        "rows": rows,
        "measure_s": time.perf_counter() - started,
    }
