"""``lbfgs-bench profile``: arguments and body."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.common import (
    PROG,
    add_pin_arguments,
    add_scheduler_argument,
    build_problem,
    check_output,
    parse_problems,
    parse_solvers,
    pin_request,
    positive_int,
    progress,
)

NAME = "profile"
HELP = "every solver on the Moré-Garbow-Hillstrom set: success rates and performance profiles"
DESCRIPTION = (
    "Runs the MGH set with every solver (the same success rule for all), writes "
    "results.json, profile.md and profile_*.png into OUTDIR (created if missing)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lbfgs_impl.solvers import solver_names

    parser.add_argument("outdir", metavar="OUTDIR", help="where to write the results and figures")
    parser.add_argument("--quick", action="store_true", help="10 problems, 3 timed runs each")
    parser.add_argument(
        "--solvers", help=f"comma-separated subset of: {', '.join(solver_names())} (default: all available)"
    )
    parser.add_argument(
        "--problems",
        help="comma-separated problem names or module:attr plugins (a problem without a known f* is "
        "excluded: success needs it) (default: the whole MGH set)",
    )
    parser.add_argument("--repeats", type=positive_int, help="timed runs per solve (default: 5; --quick: 3)")
    parser.add_argument("--maxiter", type=positive_int, default=1000, help="iteration limit (default: 1000)")
    parser.add_argument(
        "--instructions", action="store_true", help="also profile instruction counts (callgrind; slow)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --instructions: keep the counts a run cut short saved in "
        "OUTDIR/instructions-partial.jsonl "
        "and count only the rest (default: start afresh)",
    )
    add_scheduler_argument(parser)
    add_pin_arguments(parser)


#: Instruction counts appended one JSON line each as they arrive; removed once results.json is written.
PARTIAL = "instructions-partial.jsonl"


def saved_counts(path: Path) -> dict[str, Any]:
    """The counts an earlier run appended to ``path``, by task (the last line of each wins; a line cut
    short by a killed run is left out)."""
    import json

    from lbfgs_impl.measure.instructions import InstructionCounts

    found: dict[str, Any] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            counts = InstructionCounts.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        found[counts.task.key] = counts
    return found


def _saver(path: Path, resume: bool = False) -> Callable[[Any], None]:
    """Append each task's counts to ``path`` as they arrive (a run cut short keeps what it had; with
    ``resume`` the lines already there stay)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    if not resume:
        path.unlink(missing_ok=True)
    elif path.exists() and not path.read_bytes().endswith(b"\n"):  # a line cut short: end it
        with path.open("a", encoding="utf-8") as f:
            f.write("\n")

    def save(counts: Any) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(counts.to_dict()) + "\n")

    return save


def loadable(names: list[str]) -> list[str]:
    """The solvers that load (an installed plugin that does not is left out, with its reason said)."""
    from lbfgs_impl.solvers import get_solver

    out = []
    for name in names:
        try:
            get_solver(name)
        except ValueError as exc:
            progress(f"{name} left out: {exc}")
            continue
        out.append(name)
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lbfgs_impl.commands.profile.document import write_outputs
    from lbfgs_impl.commands.profile.runner import QUICK_PROBLEMS, run_profile, success_table
    from lbfgs_impl.measure.environment import collect_meta
    from lbfgs_impl.measure.timing import pinned
    from lbfgs_impl.outputs import OutputError, check_writable
    from lbfgs_impl.problems import mgh
    from lbfgs_impl.solvers import SolverConfig, solver_names

    solvers = parse_solvers(args.solvers) if args.solvers else loadable(solver_names())
    if args.problems:
        problems = parse_problems(args.problems)
        for name in problems:
            if ":" in name:  # a plugin problem is built and checked before anything runs
                build_problem(name)
    else:
        problems = list(QUICK_PROBLEMS if args.quick else mgh.STANDARD_SET)
    repeats = args.repeats or (3 if args.quick else 5)
    outdir = Path(args.outdir)
    check_output(check_writable, str(outdir / "results.json"))
    config = SolverConfig(maxiter=args.maxiter)
    with pinned(pin_request(args)) as pinning:
        progress(f"{len(problems)} problem(s) x {len(solvers)} solver(s), {repeats} timed run(s) each")
        with tqdm(total=len(problems) * len(solvers), desc="profile", unit="solve", file=sys.stderr) as bar:
            result = run_profile(
                problems,
                solvers,
                config=config,
                repeats=repeats,
                instructions=args.instructions,
                instruction_cpus=pinning.get("cpus_before") if pinning.get("pinned") else None,
                progress=lambda msg: bar.write(f"[{PROG}] {msg}", file=sys.stderr),
                bar=bar,
                scheduler=args.scheduler,
                on_instruction_result=_saver(outdir / PARTIAL, args.resume) if args.instructions else None,
                instruction_resume=saved_counts(outdir / PARTIAL) if args.resume else None,
            )
        meta = collect_meta(pinning)
    for name, reason in result.skipped_solvers.items():
        progress(f"{name} skipped: {reason}")
    result.meta.update(meta)
    result.meta.update(repeats=repeats, config=config._asdict())
    try:
        written = write_outputs(result, outdir)
    except OutputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    (outdir / PARTIAL).unlink(missing_ok=True)  # everything it held is in results.json now
    for solver, k, n in success_table(result):
        print(f"{solver:18s} solved {k}/{n}")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
