"""What several commands share: one-line usage errors, argument types, list options, pinning, outputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

PROG = "lbfgs-bench"


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def parse_names(text: str, valid: list[str], kind: str) -> list[str]:
    """A comma-separated list of ``kind`` names; ``UsageError`` names the valid choices."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in valid]
    if unknown or not names:
        what = f"unknown {kind}(s) {', '.join(map(repr, unknown))}" if unknown else f"no {kind} given"
        raise UsageError(f"{what}; valid {kind}s: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise UsageError(f"{kind} listed twice in {text!r}")
    return names


def parse_solvers(text: str) -> list[str]:
    """Registered solver names or ``module:attr`` plugins, each loaded now (a plugin that cannot be used
    is a :class:`UsageError` saying why)."""
    from lbfgs_impl.solvers import get_solver, solver_names

    names = parse_names(text, [*solver_names(), *_specs(text)], "solver")
    for name in names:
        try:
            get_solver(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return names


def parse_problems(text: str) -> list[str]:
    """Registered problem names or ``module:attr`` plugins (built and checked where they are used)."""
    from lbfgs_impl.problems import problem_names

    return parse_names(text, [*problem_names(), *_specs(text)], "problem")


def _specs(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if ":" in s]


def problem_n(name: str, n: int | None, x0: str | None = None) -> int | None:
    """The dimension to build ``name`` at: ``--n`` when given; else 100 for a registered problem started at
    its own x0, else ``None`` (the problem's own dimension: its factory's, its x0's, --x0's)."""
    from lbfgs_impl.problems import PROBLEMS

    if n is not None:
        return n
    return 100 if name in PROBLEMS and not x0 else None


def build_problem(name: str, n: int | None = None) -> Any:
    """``make_problem(name, n)``, a bad name, dimension or plugin being a :class:`UsageError`."""
    from lbfgs_impl.problems import make_problem

    try:
        return make_problem(name, n)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_pin_arguments(parser: argparse.ArgumentParser, what: str = "") -> None:
    """``--cpu N`` / ``--no-pin`` (mutually exclusive): where the timing process runs."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--cpu", type=int, default=-1, help=f"pin to this CPU{what} (default: first allowed CPU)"
    )
    group.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """``--scheduler ADDRESS``: where the instruction counts run (see :mod:`lbfgs_impl.measure.cluster`)."""
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        type=scheduler_address,
        help="where --instructions runs its processes: a Dask scheduler address (tcp://host:8786), 'local' "
        "(an embedded Dask LocalCluster, one worker per allowed CPU) or 'none' (no Dask) "
        "(default: $LBFGS_BENCH_SCHEDULER, else local)",
    )


def scheduler_address(text: str) -> str:
    from lbfgs_impl.measure.cluster import check_scheduler

    try:
        return check_scheduler(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--scheduler ")) from None


def pin_request(args: argparse.Namespace) -> int | None:
    """The CPU argument of :func:`lbfgs_impl.measure.timing.pinned` for ``--cpu``/``--no-pin``."""
    return None if args.no_pin else args.cpu


def progress(message: str) -> None:
    """One progress line on stderr, prefixed with the program name."""
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def check_output(check: Callable[[str], Any], path: str) -> None:
    """Run an output check before measuring; a failure is a usage error (one line, exit 2)."""
    from lbfgs_impl.outputs import OutputError

    try:
        check(path)
    except OutputError as exc:
        raise UsageError(str(exc)) from None


def write_output(write: Callable[[str, Any], Any], path: str, content: Any) -> int:
    """Write a result file at the end of a run; a failure is one line and exit 1, never a traceback."""
    from lbfgs_impl.outputs import OutputError

    try:
        write(path, content)
    except OutputError as exc:
        print(f"{PROG}: error: {exc}; the results above were not saved", file=sys.stderr)
        return 1
    progress(f"wrote {path}")
    return 0
