"""``lbfgs-bench compare``: arguments and body."""

from __future__ import annotations

import argparse
import contextlib

from lbfgs_impl.commands.common import (
    UsageError,
    add_pin_arguments,
    add_scheduler_argument,
    check_output,
    parse_solvers,
    pin_request,
    positive_int,
    problem_n,
    progress,
    write_output,
)

NAME = "compare"
HELP = "time every solver on one problem: first call and steady state"
DESCRIPTION = "First-call and steady-state timings of the L-BFGS variants on one problem."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # long function: one add_argument call per option, in the order --help shows them
    from lbfgs_impl.problems import problem_names
    from lbfgs_impl.solvers import SEED_SOLVERS, solver_names

    parser.add_argument(
        "--problem",
        default="rosenbrock",
        help=f"one of: {', '.join(problem_names())}, or module:attr naming a function "
        "f(x) -> scalar, a factory "
        "(n) -> Problem or a Problem (default: rosenbrock)",
    )
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="problem dimension, >= 2 (default: 100 for a registered problem, else the problem's own: "
        "its factory's, its x0's or --x0's)",
    )
    parser.add_argument(
        "--x0",
        metavar="MODULE:ATTR",
        help="start from this array (1-D, real, finite) instead of the problem's own x0",
    )
    parser.add_argument(
        "--solvers",
        default=",".join(SEED_SOLVERS),
        help=f"comma-separated subset of: {', '.join(solver_names())} "
        f"(default: the seed variants {', '.join(SEED_SOLVERS)}; peers need the 'peers' extra); "
        "module:attr names a plugin solver (lbfgs-bench list shows every solver)",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=20, help="steady-state runs per solver (default: 20)"
    )
    parser.add_argument(
        "--first-call-repeats", type=positive_int, default=3, help="cold runs per solver (default: 3)"
    )
    parser.add_argument(
        "--gtol", type=float, default=1e-5, help="stop when ||g||_inf <= gtol (default: 1e-5)"
    )
    parser.add_argument("--maxiter", type=positive_int, default=1000, help="iteration limit (default: 1000)")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the results as JSON (atomically; missing directories are created; "
        "checked before measuring)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions under valgrind's callgrind (machine-independent; needs valgrind "
        "and a C compiler, skipped with the reason otherwise)",
    )
    parser.add_argument(
        "--instructions-repeats",
        type=positive_int,
        default=3,
        help="processes per solver for --instructions (default: 3)",
    )
    parser.add_argument(
        "--instructions-compile",
        action="store_true",
        help="with --instructions, also count trace+lower+compile (slow: XLA compiles under valgrind)",
    )
    add_scheduler_argument(parser)
    add_pin_arguments(parser, " while timing")


def run(args: argparse.Namespace) -> int:
    from lbfgs_impl.commands.compare.runner import InstructionOptions, run_comparison
    from lbfgs_impl.commands.compare.table import comparison_to_dict, format_table
    from lbfgs_impl.measure.resources import check_fits
    from lbfgs_impl.measure.timing import pinned
    from lbfgs_impl.outputs import check_writable, write_json_atomic
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig

    solvers = parse_solvers(args.solvers)
    if args.x0 and (args.instructions or args.instructions_compile):
        raise UsageError("--x0 cannot be combined with --instructions (its processes use the problem's x0)")
    n = problem_n(args.problem, args.n, args.x0)
    if args.json:
        check_output(check_writable, args.json)
    with contextlib.ExitStack() as stack:
        try:
            config = SolverConfig(gtol=args.gtol, maxiter=args.maxiter).validate()
            if n is not None:
                check_fits(args.problem, n, config.memory_size)  # before anything is allocated
            # Pin first: building the problem starts JAX's backend and its thread pool.
            pinning = stack.enter_context(pinned(pin_request(args)))
            problem = make_problem(args.problem, n, x0=args.x0)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        progress(f"{problem.label}: solvers {', '.join(solvers)}")
        instructions = None
        if args.instructions or args.instructions_compile:
            instructions = InstructionOptions(
                args.instructions_repeats, args.instructions_compile, scheduler=args.scheduler
            )
        comparison = run_comparison(
            problem,
            solvers,
            config,
            repeats=args.repeats,
            first_call_repeats=args.first_call_repeats,
            pinning=pinning,
            progress=progress,
            instructions=instructions,
        )
    print(format_table(comparison), flush=True)
    if args.json:
        return write_output(write_json_atomic, args.json, comparison_to_dict(comparison))
    return 0
