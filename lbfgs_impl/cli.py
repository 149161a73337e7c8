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
    from lbfgs_impl.solvers import SEED_SOLVERS, solver_names

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
        default=",".join(SEED_SOLVERS),
        help=f"comma-separated subset of: {', '.join(solver_names())} "
        f"(default: the seed variants {', '.join(SEED_SOLVERS)}; peers need the 'peers' extra)",
    )
    cmp_.add_argument(
        "--repeats", type=_positive_int, default=20, help="steady-state runs per solver (default: 20)"
    )
    cmp_.add_argument(
        "--first-call-repeats", type=_positive_int, default=3, help="cold runs per solver (default: 3)"
    )
    cmp_.add_argument("--gtol", type=float, default=1e-5, help="stop when ||g||_inf <= gtol (default: 1e-5)")
    cmp_.add_argument("--maxiter", type=_positive_int, default=1000, help="iteration limit (default: 1000)")
    cmp_.add_argument(
        "--json",
        metavar="PATH",
        help="also write the results as JSON (atomically; missing directories are created; "
        "checked before measuring)",
    )
    cmp_.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions under valgrind's callgrind (machine-independent; needs valgrind "
        "and a C compiler, skipped with the reason otherwise)",
    )
    cmp_.add_argument(
        "--instructions-repeats",
        type=_positive_int,
        default=3,
        help="processes per solver for --instructions (default: 3)",
    )
    cmp_.add_argument(
        "--instructions-compile",
        action="store_true",
        help="with --instructions, also count trace+lower+compile (about a minute per JAX solver)",
    )
    pin = cmp_.add_mutually_exclusive_group()
    pin.add_argument(
        "--cpu", type=int, default=-1, help="pin to this CPU while timing (default: first allowed CPU)"
    )
    pin.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")

    prof = sub.add_parser(
        "profile",
        help="every solver on the Moré-Garbow-Hillstrom set: success rates and performance profiles",
        description="Runs the MGH set with every solver (the same success rule for all), writes "
        "results.json, profile.md and profile_*.png into OUTDIR (created if missing).",
    )
    prof.add_argument("outdir", metavar="OUTDIR", help="where to write the results and figures")
    prof.add_argument("--quick", action="store_true", help="10 problems, 3 timed runs each (a few minutes)")
    prof.add_argument(
        "--solvers", help=f"comma-separated subset of: {', '.join(solver_names())} (default: all available)"
    )
    prof.add_argument("--problems", help="comma-separated problem names (default: the whole MGH set)")
    prof.add_argument("--repeats", type=_positive_int, help="timed runs per solve (default: 5; --quick: 3)")
    prof.add_argument("--maxiter", type=_positive_int, default=1000, help="iteration limit (default: 1000)")
    prof.add_argument(
        "--instructions", action="store_true", help="also profile instruction counts (callgrind; slow)"
    )
    prof_pin = prof.add_mutually_exclusive_group()
    prof_pin.add_argument("--cpu", type=int, default=-1, help="pin to this CPU (default: first allowed CPU)")
    prof_pin.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")

    rep = sub.add_parser(
        "report",
        help="when does each solver win? scaling, floor, break-even, cache, batching, convergence, "
        "robustness",
        description="Runs every analysis and writes report.md, report.json and one PNG per figure into "
        "OUTDIR (created if missing). --quick: ~5 minutes on 2 cores; the full report: ~30.",
    )
    rep.add_argument("outdir", metavar="OUTDIR", help="where to write report.md, report.json and the figures")
    rep.add_argument("--quick", action="store_true", help="smaller sizes and batches (about 5 minutes)")
    rep.add_argument("--plan", choices=["quick", "full", "tiny"], help=argparse.SUPPRESS)  # tiny: the tests
    rep_pin = rep.add_mutually_exclusive_group()
    rep_pin.add_argument("--cpu", type=int, default=-1, help="pin to this CPU (default: first allowed CPU)")
    rep_pin.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")

    chk = sub.add_parser(
        "check-regressions",
        help="compare two pytest-benchmark JSON files: noise-aware time and exact quality checks",
        description="Exit 0: nothing regressed; 1: something regressed; 2: usage or data error.",
    )
    chk.add_argument("baseline", help="pytest-benchmark JSON of the baseline run")
    chk.add_argument("current", help="pytest-benchmark JSON of the current run")
    chk.add_argument(
        "--threshold", type=_fraction, default=0.10, help="median slowdown that can alert (default: 0.10)"
    )
    chk.add_argument(
        "--alpha",
        type=_fraction,
        default=0.05,
        help="significance of the rank test on raw samples (default: 0.05)",
    )
    chk.add_argument(
        "--count-tolerance",
        type=_fraction,
        default=0.05,
        help="allowed rise of iterations/evals (default: 0.05)",
    )
    chk.add_argument(
        "--quality-factor", type=float, default=10.0, help="allowed factor on grad norm/loss (default: 10)"
    )
    chk.add_argument(
        "--instructions-threshold",
        type=_fraction,
        default=0.02,
        help="instruction-count rise that can alert, at least (default: 0.02; raised to 3x the "
        "measured repeat spread when that is larger)",
    )
    chk.add_argument(
        "--report",
        metavar="PATH",
        help="also write the Markdown report here (atomically; missing directories are created)",
    )
    chk.add_argument(
        "--confirm",
        action="store_true",
        help="re-run flagged time regressions A/B from git worktrees; alert only on those that reproduce",
    )
    chk.add_argument("--repo", default=".", help="git repository for --confirm (default: .)")
    chk.add_argument("--baseline-rev", help="baseline commit for --confirm (default: from the baseline file)")
    chk.add_argument("--current-rev", help="current commit for --confirm (default: from the current file)")
    chk.add_argument("--confirm-rounds", type=_positive_int, default=3, help="A/B rounds (default: 3)")
    chk.add_argument("--perf-cpu", default="first", help="CPU for the re-runs (default: first allowed)")
    return parser


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def _parse_names(text: str, valid: list[str], kind: str) -> list[str]:
    """A comma-separated list of ``kind`` names; ``UsageError`` names the valid choices."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in valid]
    if unknown or not names:
        what = f"unknown {kind}(s) {', '.join(map(repr, unknown))}" if unknown else f"no {kind} given"
        raise UsageError(f"{what}; valid {kind}s: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise UsageError(f"{kind} listed twice in {text!r}")
    return names


def _parse_problems(text: str) -> list[str]:
    from lbfgs_impl.problems import problem_names

    return _parse_names(text, problem_names(), "problem")


def cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from lbfgs_impl.environment import collect_meta
    from lbfgs_impl.measure import pinned
    from lbfgs_impl.outputs import OutputError, check_writable
    from lbfgs_impl.problems import mgh
    from lbfgs_impl.robustness import QUICK_PROBLEMS, run_profile, success_table, write_outputs
    from lbfgs_impl.solvers import SolverConfig, solver_names

    solvers = _parse_solvers(args.solvers) if args.solvers else solver_names()
    if args.problems:
        problems = _parse_problems(args.problems)
    else:
        problems = list(QUICK_PROBLEMS if args.quick else mgh.STANDARD_SET)
    repeats = args.repeats or (3 if args.quick else 5)
    outdir = Path(args.outdir)
    _check_output(check_writable, str(outdir / "results.json"))
    config = SolverConfig(maxiter=args.maxiter)
    with pinned(None if args.no_pin else args.cpu) as pinning:
        _progress(f"{len(problems)} problem(s) x {len(solvers)} solver(s), {repeats} timed run(s) each")
        with tqdm(total=len(problems) * len(solvers), desc="profile", unit="solve", file=sys.stderr) as bar:
            run = run_profile(
                problems,
                solvers,
                config=config,
                repeats=repeats,
                instructions=args.instructions,
                instruction_cpus=pinning.get("cpus_before") if pinning.get("pinned") else None,
                progress=lambda msg: bar.write(f"[{PROG}] {msg}", file=sys.stderr),
                bar=bar,
            )
        meta = collect_meta(pinning)
    for name, reason in run.skipped_solvers.items():
        _progress(f"{name} skipped: {reason}")
    run.meta.update(meta)
    run.meta.update(repeats=repeats, config=config._asdict())
    try:
        written = write_outputs(run, outdir)
    except OutputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    for solver, k, n in success_table(run):
        print(f"{solver:18s} solved {k}/{n}")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lbfgs_impl.measure import pinned
    from lbfgs_impl.outputs import OutputError, check_writable
    from lbfgs_impl.whenwins import PLANS, build_report

    outdir = Path(args.outdir)
    _check_output(check_writable, str(outdir / "report.md"))
    plan = PLANS[args.plan or ("quick" if args.quick else "full")]
    with pinned(None if args.no_pin else args.cpu) as pinning:
        _progress(f"report ({plan.name}): scaling, floor, break-even, batched, convergence, robustness")
        try:
            report, written = build_report(outdir, plan, pinning=pinning, progress=_progress)
        except OutputError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
    failed = [s.name for s in report.stages.values() if s.error]
    for name in failed:
        _progress(f"stage {name} failed (recorded in report.md): {report.stages[name].error}")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 1 if failed else 0


def _parse_solvers(text: str) -> list[str]:
    from lbfgs_impl.solvers import solver_names

    return _parse_names(text, solver_names(), "solver")


def _progress(message: str) -> None:
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def cmd_compare(args: argparse.Namespace) -> int:
    from lbfgs_impl.compare import InstructionOptions, run_comparison
    from lbfgs_impl.measure import pinned
    from lbfgs_impl.outputs import check_writable, write_json_atomic
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.report import comparison_to_dict, format_table
    from lbfgs_impl.resources import check_fits
    from lbfgs_impl.solvers import SolverConfig

    solvers = _parse_solvers(args.solvers)
    if args.json:
        _check_output(check_writable, args.json)
    with contextlib.ExitStack() as stack:
        try:
            config = SolverConfig(gtol=args.gtol, maxiter=args.maxiter).validate()
            check_fits(args.problem, args.n, config.memory_size)  # before anything is allocated
            # Pin first: building the problem starts JAX's backend and its thread pool.
            pinning = stack.enter_context(pinned(None if args.no_pin else args.cpu))
            problem = make_problem(args.problem, args.n)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        _progress(f"{problem.label}: solvers {', '.join(solvers)}")
        instructions = None
        if args.instructions or args.instructions_compile:
            instructions = InstructionOptions(args.instructions_repeats, args.instructions_compile)
        comparison = run_comparison(
            problem,
            solvers,
            config,
            repeats=args.repeats,
            first_call_repeats=args.first_call_repeats,
            pinning=pinning,
            progress=_progress,
            instructions=instructions,
        )
    print(format_table(comparison), flush=True)
    if args.json:
        return _write_output(write_json_atomic, args.json, comparison_to_dict(comparison))
    return 0


def _check_output(check, path: str) -> None:
    from lbfgs_impl.outputs import OutputError

    try:
        check(path)
    except OutputError as exc:
        raise UsageError(str(exc)) from None


def _write_output(write, path: str, content) -> int:
    """Write a result file at the end of a run; a failure is one line and exit 1, never a traceback."""
    from lbfgs_impl.outputs import OutputError

    try:
        write(path, content)
    except OutputError as exc:
        print(f"{PROG}: error: {exc}; the results above were not saved", file=sys.stderr)
        return 1
    _progress(f"wrote {path}")
    return 0


def cmd_check_regressions(args: argparse.Namespace) -> int:
    from lbfgs_impl.confirm import ConfirmationError, confirm_time_regressions
    from lbfgs_impl.outputs import atomic_write_text, check_writable
    from lbfgs_impl.regressions import DataError, Thresholds, compare_runs, load_run, render_report

    if not args.quality_factor > 1.0:
        raise UsageError(f"--quality-factor must be > 1, got {args.quality_factor}")
    if args.report:
        _check_output(check_writable, args.report)
    thresholds = Thresholds(
        threshold=args.threshold,
        alpha=args.alpha,
        count_tolerance=args.count_tolerance,
        quality_factor=args.quality_factor,
        instructions=args.instructions_threshold,
    )
    try:
        baseline, current = load_run(args.baseline), load_run(args.current)
        comparison = compare_runs(baseline, current, thresholds)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if args.confirm and any(f.kind == "time" for f in comparison.regressions):
        base_rev = args.baseline_rev or baseline.commit_info.get("id")
        cur_rev = args.current_rev or current.commit_info.get("id")
        if not base_rev or not cur_rev:
            raise UsageError("--confirm needs --baseline-rev/--current-rev: the files name no commit")
        try:
            confirm_time_regressions(
                comparison,
                repo=args.repo,
                baseline_rev=base_rev,
                current_rev=cur_rev,
                rounds=args.confirm_rounds,
                cpu=args.perf_cpu,
                progress=_progress,
            )
        except ConfirmationError as exc:
            raise UsageError(f"--confirm: {exc}") from None
    report = render_report(comparison)
    print(report, end="")
    verdict = 1 if comparison.regressions else 0
    if args.report and _write_output(atomic_write_text, args.report, report):
        return 2
    return verdict


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from lbfgs_impl.measure import MeasurementError

    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 2
        commands = {
            "compare": cmd_compare,
            "check-regressions": cmd_check_regressions,
            "profile": cmd_profile,
            "report": cmd_report,
        }
        return commands[args.command](args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except MeasurementError as exc:
        print(f"{PROG}: measurement error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from lbfgs_impl.resources import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"{PROG}: out of memory: {first_line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
