"""The fields stored with every result: JSON rows, pytest-benchmark ``extra_info``, asv.

One place decides what a result carries (iterations, evaluations, quality,
versions, pinning, instruction counts), so that ``compare --json``, ``pytest
perf`` and the gate read the same names.
"""

from __future__ import annotations

import math
import platform
import statistics
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lbfgs_impl.measure.instructions import InstructionCounts
    from lbfgs_impl.measure.timing import FirstCallSample
    from lbfgs_impl.solvers import Result


def finite_or_none(x: float | None) -> float | None:
    """``x``, or None where it is missing or not finite (JSON has no inf/nan)."""
    return None if x is None or not math.isfinite(x) else x


def thread_pool_shares(counts: InstructionCounts) -> list[float]:
    """Per process: the share of everything callgrind counted that XLA's thread-pool scheduler took."""
    allocator = counts.solve_allocator if len(counts.solve_allocator) == len(counts.solve) else []
    allocator = allocator or [0] * len(counts.solve)
    return [
        (t - n - a) / t for n, t, a in zip(counts.solve, counts.solve_total, allocator, strict=False) if t > 0
    ]


def thread_pool_fields(counts: InstructionCounts) -> dict[str, Any]:
    """Total count (the thread pool included) and the pool's share, beside the compared figure."""
    shares = thread_pool_shares(counts)
    return {
        "instructions_total": statistics.median(counts.solve_total) if counts.solve_total else None,
        "instructions_total_samples": list(counts.solve_total),
        "instructions_thread_pool_share": statistics.median(shares) if shares else None,
        "instructions_thread_pool_share_samples": shares,
        "instructions_allocator_samples": list(counts.solve_allocator),
    }


def os_image() -> str:
    """The OS release and C library the counts were taken on (``PRETTY_NAME, glibc X``)."""
    try:
        name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        name = platform.system()
    lib, version = platform.libc_ver()
    return f"{name or platform.system()}, {lib or 'libc'} {version or '?'}"


def counts_environment(meta: dict[str, Any], skipped: str | None) -> dict[str, Any]:
    """``extra_info["instructions_meta"]``: how the counts were taken, and what must match to compare them.

    Args:
      meta: :attr:`lbfgs_impl.measure.instructions.InstructionReport.meta` (valgrind version, flags...).
      skipped: why no count was taken, or None.

    The architecture and OS/glibc image are those the counting processes read
    (``meta["environment"]``), not the client's: the gate compares the machines that counted. So
    are valgrind's version and flags where those processes reported them: a resumed run's samples
    or a cluster's workers may have counted with other code than the one writing the record.
    """
    env = meta.get("environment") or {}
    if env.get("arch") and env.get("os_image"):  # read by the processes that counted
        counted = {key: env[key] for key in ("valgrind", "valgrind_flags") if env.get(key)}
        return {**meta, **counted, "skipped": skipped, "arch": env["arch"], "os_image": env["os_image"]}
    # nothing was counted: this machine's, said so
    where = {"environment_read_on": "the client (no count was taken)"}
    return {**meta, **where, "skipped": skipped, "arch": platform.machine(), "os_image": os_image()}


def instruction_fields(counts: InstructionCounts | None) -> dict[str, Any]:
    """The instruction-count fields of a result row (empty when the phase did not run).

    ``instructions`` (the compared figure) leaves out XLA's thread-pool scheduler;
    ``instructions_total`` and ``instructions_thread_pool_share`` say how much that was.
    """
    if counts is None:
        return {}
    doc = counts.to_dict()
    return {
        "instructions": doc["instructions"],
        **thread_pool_fields(counts),
        "instructions_per_iteration": doc["instructions_per_iteration"],
        "instructions_spread": doc["instructions_spread"],
        "instructions_samples": doc["instructions_samples"],
        "instructions_n_iter": doc["n_iter"],
        "instructions_n_fev": doc["n_fev"],
        "compile_instructions": doc["compile_instructions"],
        "instructions_errors": doc["errors"],
    }


def benchmark_extra_info(
    result: Result,
    meta: dict[str, Any],
    *,
    seconds: float | None = None,
    first_call: list[FirstCallSample] | None = None,
) -> dict[str, Any]:
    """The figures stored beside each pytest-benchmark/asv timing.

    Args:
      result: the solve that was timed.
      meta: :func:`lbfgs_impl.measure.environment.collect_meta` output.
      seconds: the timing's median, for seconds per iteration.
      first_call: cold samples, for the compile seconds.
    """
    info: dict[str, Any] = {
        "n_iter": result.n_iter,
        "n_fev": result.n_fev,
        "final_loss": finite_or_none(result.value),
        "grad_inf_norm": finite_or_none(result.grad_inf_norm),
        "converged": result.converged,
        "status": result.status,
        "seconds_per_iteration": seconds / result.n_iter if seconds and result.n_iter else None,
        "versions": meta["versions"],
        "pinning": meta["pinning"],
        "thread_env": meta["thread_env"],
    }
    if first_call:
        from lbfgs_impl.measure.timing import median

        info["compile_s"] = median([s.compile_s for s in first_call])
        info["trace_lower_s"] = median([s.trace_lower_s for s in first_call])
        info["n_compilations"] = [s.n_compilations for s in first_call]
    return info


def origin_fields(solver: str, problem: str) -> dict[str, Any]:
    """Where the solver and the problem come from (built-in, entry point or module:attr, with the
    distribution's name and version), stored beside every result."""
    from lbfgs_impl.problems import problem_origin
    from lbfgs_impl.solvers import solver_origin

    return {
        "solver_origin": solver_origin(solver).to_dict(),
        "problem_origin": problem_origin(problem).to_dict(),
    }
