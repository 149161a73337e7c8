"""``lbfgs-bench`` command line (also ``python -m lbfgs_impl``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

PROG = "lbfgs-bench"


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from lbfgs_impl.problems import problem_names
    from lbfgs_impl.solvers import solver_names

    parser = _Parser(prog=PROG, description="L-BFGS in SciPy and Optax, measured correctly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    cmp_ = sub.add_parser(
        "compare",
        help="time every solver on one problem: first call and steady state",
        description="First-call and steady-state timings of the L-BFGS variants on one problem.",
    )
    cmp_.add_argument(
        "--problem", default="rosenbrock", help=f"one of: {', '.join(problem_names())} (default: rosenbrock)"
    )
    cmp_.add_argument("--n", type=int, default=100, help="problem dimension, >= 2 (default: 100)")
    cmp_.add_argument(
        "--solvers",
        default=",".join(solver_names()),
        help=f"comma-separated subset of: {', '.join(solver_names())} (default: all)",
    )
    cmp_.add_argument(
        "--repeats", type=_positive_int, default=20, help="steady-state runs per solver (default: 20)"
    )
    cmp_.add_argument(
        "--first-call-repeats", type=_positive_int, default=3, help="cold runs per solver (default: 3)"
    )
    cmp_.add_argument("--gtol", type=float, default=1e-5, help="stop when ||g||_inf <= gtol (default: 1e-5)")
    cmp_.add_argument("--maxiter", type=_positive_int, default=1000, help="iteration limit (default: 1000)")
    cmp_.add_argument("--json", metavar="PATH", help="also write the results as JSON (atomically)")
    pin = cmp_.add_mutually_exclusive_group()
    pin.add_argument(
        "--cpu", type=int, default=-1, help="pin to this CPU while timing (default: first allowed CPU)"
    )
    pin.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    return parser


def _parse_solvers(text: str) -> list[str]:
    from lbfgs_impl.solvers import solver_names

    names = [s.strip() for s in text.split(",") if s.strip()]
    valid = solver_names()
    unknown = [s for s in names if s not in valid]
    if unknown or not names:
        what = f"unknown solver(s) {', '.join(map(repr, unknown))}" if unknown else "no solver given"
        raise UsageError(f"{what}; valid solvers: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise UsageError(f"solver listed twice in {text!r}")
    return names


def _progress(message: str) -> None:
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def cmd_compare(args: argparse.Namespace) -> int:
    from lbfgs_impl.compare import run_comparison
    from lbfgs_impl.measure import pinned
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.report import comparison_to_dict, format_table, write_json_atomic
    from lbfgs_impl.solvers import SolverConfig

    solvers = _parse_solvers(args.solvers)
    with contextlib.ExitStack() as stack:
        try:
            config = SolverConfig(gtol=args.gtol, maxiter=args.maxiter).validate()
            # Pin first: building the problem starts JAX's backend and its thread pool.
            pinning = stack.enter_context(pinned(None if args.no_pin else args.cpu))
            problem = make_problem(args.problem, args.n)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        _progress(f"{problem.label}: solvers {', '.join(solvers)}")
        comparison = run_comparison(
            problem,
            solvers,
            config,
            repeats=args.repeats,
            first_call_repeats=args.first_call_repeats,
            pinning=pinning,
            progress=_progress,
        )
    print(format_table(comparison), flush=True)
    if args.json:
        write_json_atomic(args.json, comparison_to_dict(comparison))
        _progress(f"wrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from lbfgs_impl.measure import MeasurementError

    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 2
        return {"compare": cmd_compare}[args.command](args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except MeasurementError as exc:
        print(f"{PROG}: measurement error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
