"""What each pitfall row is: its group, title, the correct measurement it is compared with, and the
sentence saying what went wrong (chosen from what was measured)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

GROUPS = {
    1: "The timer stopped before the work finished (asynchronous dispatch)",
    2: "Compile time counted as run time",
    3: "The step not jitted, or jitted anew",
    4: "Closures that defeat JAX's cache",
    5: "SciPy's own variants",
}


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 compilation``, ``2 compilations``."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def _async(row: dict[str, Any]) -> str:
    if row["below_floor"]:
        return (
            "The timer stopped once the work was dispatched, before it ran: the time is below the floor "
            "of the arithmetic the solve must do, so it cannot be the solve."
        )
    return (
        "The timer stopped once the work was dispatched, before it had finished; here dispatching "
        "took longer than the floor, so only the blocked time of the same run shows what was missed."
    )


def _first_call(row: dict[str, Any]) -> str:
    return (
        f"The first call traces and compiles ({plural(row['n_compilations'], 'compilation')} counted "
        "in the timed region): timed as if steady, compilation is reported as run time."
    )


def _eager(row: dict[str, Any]) -> str:
    later = row.get("compilations_later_iterations", 0)
    recompiles = (
        "; the line search's lax control flow is compiled again at every call "
        f"({plural(later, 'compilation')} after the first iteration)"
        if later
        else ""
    )
    return f"Without jit every operation of every step is dispatched from Python one at a time{recompiles}."


def _jit_anew(row: dict[str, Any]) -> str:
    if row["n_compilations"] >= row["n_iter"]:
        return "Every new jax.jit(step) traced and compiled the step again: a compilation an iteration."
    return (
        f"jax.jit(step) anew each iteration compiled {row['n_compilations']} times in {row['n_iter']} "
        "iterations (JAX's caches key on the function object, which stays the same): the loop pays "
        "those compilations, then jit's slower dispatch path."
    )


def _recompiles(what: str) -> Callable[[dict[str, Any]], str]:
    def sentence(row: dict[str, Any]) -> str:
        return (
            f"{what} is a new cache key, so every call traced and compiled the solve again "
            f"({row['n_compilations']} compilations in {row['calls']} calls)."
        )

    return sentence


def _not_jitted(row: dict[str, Any]) -> str:
    return (
        "Every evaluation runs the objective's and its gradient's operations one by one from Python "
        "instead of calling one compiled function."
    )


def _two_calls(row: dict[str, Any]) -> str:
    return (
        "Value and gradient as two functions: two dispatches per point, and the gradient's forward pass "
        "recomputes the value SciPy asked for just before."
    )


def _float32(row: dict[str, Any]) -> str:
    if not row["converged"]:
        return (
            "SciPy stopped on the float32 gradient where the float64 gradient is still above gtol: "
            "a different, unfinished solve, not a faster one."
        )
    return (
        "In float32 the solve takes another path to the tolerance; its time is not the float64 solve's, "
        "and the comparison with SciPy's float64 needs float64."
    )


class Spec(NamedTuple):
    group: int
    title: str
    correct: str  # key of the reference in the document's "references"
    same_computation: bool  # runs the reference's computation, so its iterations must be the same
    sentence: Callable[[dict[str, Any]], str]


ROWS: dict[str, Spec] = {
    "async_while": Spec(
        1, "while_loop solve, timer stopped without block_until_ready", "while", True, _async
    ),
    "async_steps": Spec(
        1, "jitted step loop, timer stopped without block_until_ready", "loop_fixed", True, _async
    ),
    "first_call_while": Spec(
        2, "while_loop solve, first call timed as if steady", "while", True, _first_call
    ),
    "first_call_loop": Spec(2, "step loop, first call timed as if steady", "loop", True, _first_call),
    "eager": Spec(3, "step loop, step not jitted (eager)", "loop", False, _eager),
    "jit_anew": Spec(3, "step loop, jax.jit(step) called anew every iteration", "loop", True, _jit_anew),
    "new_function": Spec(
        4, "while_loop solve, a new function object every call", "while", True, _recompiles("A new function")
    ),
    "static_scalar": Spec(
        4,
        "while_loop solve, a static Python scalar changed every call",
        "while",
        True,
        _recompiles("A changed static scalar (the iteration limit)"),
    ),
    "scipy_not_jitted": Spec(5, "SciPy L-BFGS-B, objective not jitted", "scipy", False, _not_jitted),
    "scipy_two_calls": Spec(5, "SciPy L-BFGS-B, value and gradient as two calls", "scipy", False, _two_calls),
    "scipy_float32": Spec(5, "SciPy L-BFGS-B, objective in float32", "scipy", False, _float32),
}


def build_row(key: str, measured: dict[str, Any], refs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The row of pitfall ``key``: what was measured, its reference's time, the ratio, the sentence."""
    spec = ROWS[key]
    ref = refs[spec.correct]
    row: dict[str, Any] = {
        "key": key,
        "group": spec.group,
        "title": spec.title,
        "correct": spec.correct,
        "correct_seconds": ref["seconds"],
        "correct_n_iter": ref["n_iter"],
        "same_computation": spec.same_computation,
        "extrapolated": False,
        **measured,
    }
    row["ratio"] = row["seconds"] / ref["seconds"]
    if "floor_s" in row:
        row["below_floor"] = row["seconds"] < row["floor_s"]
        row["verdict"] = "below the floor" if row["below_floor"] else "not below the floor"
    row["what_went_wrong"] = spec.sentence(row)
    return row
