"""``lbfgs-bench history``: instruction counts of the seed case across Optax and JAX releases."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from lbfgs_impl.commands.common import UsageError, positive_int, progress

NAME = "history"
HELP = "instruction counts of one case across Optax and JAX releases, one environment per release"
DESCRIPTION = (
    "Builds one virtual environment per release (pip, one download cache shared by all; lbfgs-bench "
    "itself is put on PYTHONPATH, not installed) and counts in each, under callgrind, the instructions "
    "of the first call's trace+lower+compile and of the steady solve, with the static HLO figures "
    "(kernels per iteration, flops) and the iterations and evaluations of a native solve. Series: "
    "'optax' (every Optax from 0.2.3 with one fixed JAX) and 'jax' (a chain of JAX releases, each with "
    "the newest Optax that accepts it). Results go to OUTDIR/runs/<env>.json as each environment "
    "finishes; an environment already measured there is skipped. --ab A,B times the steady solve in "
    "two Optax releases (fixed JAX) in alternating rounds and writes OUTDIR/ab.json."
)
SERIES_NAMES = ("optax", "jax")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outdir", metavar="OUTDIR", help="where runs/<env>.json, envs.json and ab.json go")
    parser.add_argument("--envs", required=True, type=Path, help="folder of the release environments")
    parser.add_argument(
        "--series", default="optax,jax", help=f"comma-separated: {', '.join(SERIES_NAMES)} (default: both)"
    )
    parser.add_argument("--pip-cache", type=Path, help="pip download cache shared by the environments")
    parser.add_argument("--python", default=sys.executable, help="interpreter the environments are made from")
    parser.add_argument("--repeats", type=positive_int, default=1, help="callgrind processes per release")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU valgrind (or the A/B workers) run on")
    parser.add_argument(
        "--record-only",
        action="store_true",
        help="only write OUTDIR/envs.json (the series, the disk use of the environments); count nothing",
    )
    parser.add_argument("--ab", metavar="A,B", help="two Optax releases to time side by side instead")
    parser.add_argument(
        "--ab-jax", help="the JAX release of the A/B environments (default: the optax series')"
    )
    parser.add_argument("--rounds", type=positive_int, default=10, help="A/B rounds (default: 10)")
    parser.add_argument("--per-round", type=positive_int, default=20, help="timed solves per round")


def _series(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SERIES_NAMES]
    if bad or not names:
        raise UsageError(f"--series: unknown {', '.join(bad) or 'empty'}; valid: {', '.join(SERIES_NAMES)}")
    return names


def code_path() -> str:
    """The folder holding this checkout's ``lbfgs_impl`` (put on the environments' PYTHONPATH)."""
    import lbfgs_impl

    return str(Path(lbfgs_impl.__file__).resolve().parents[1])


def run(args: argparse.Namespace) -> int:
    from lbfgs_impl.commands.history import plan
    from lbfgs_impl.outputs import write_json_atomic

    series = _series(args.series)
    out = Path(args.outdir)
    if args.ab:
        pair = [s.strip() for s in args.ab.split(",")]
        if len(pair) != 2 or any(p not in plan.OPTAX_RELEASES for p in pair):
            raise UsageError(f"--ab takes two of: {', '.join(plan.OPTAX_RELEASES)}; got {args.ab!r}")
        return _ab(args, [plan.Release(args.ab_jax or plan.FIXED_JAX, p) for p in pair], out)
    envs_doc = {
        "series": {},
        "fixed_jax_reason": plan.FIXED_JAX_REASON,
        "jax_chain_rule": plan.OPTAX_FOR_JAX_RULE,
    }
    for name in series:
        envs_doc["series"][name] = [r.name for r in plan.SERIES[name]]
    _record(args, series, out, envs_doc)
    for release in [] if args.record_only else plan.releases(series):
        target = out / "runs" / f"{release.name}.json"
        if target.exists():
            progress(f"{release.name}: measured already ({target})")
            continue
        progress(f"{release.name}: building the environment")
        python = plan.build_env(args.envs, release, args.python, args.pip_cache)
        progress(f"{release.name}: counting ({args.repeats} process(es) under callgrind)")
        target.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(python), "-m", "lbfgs_impl.commands.history.child", str(target)]
        cmd += ["--repeats", str(args.repeats), "--cpu", str(args.cpu)]
        proc = subprocess.run(cmd, cwd=code_path(), env=_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            write_json_atomic(target, {"release": release.name, "error": last})
        _record(args, series, out, envs_doc)
    return 0


def _record(args: argparse.Namespace, series: list[str], out: Path, envs_doc: dict) -> None:
    """Write ``OUTDIR/envs.json``: the series, and the disk use of each environment built so far."""
    from lbfgs_impl.commands.history import plan
    from lbfgs_impl.outputs import write_json_atomic

    disk = {r.name: plan.disk_use(args.envs / r.name) for r in plan.releases(series)}
    envs_doc["disk_bytes"] = {name: size for name, size in disk.items() if size}
    envs_doc["pip_cache_bytes"] = plan.disk_use(args.pip_cache) if args.pip_cache else None
    write_json_atomic(out / "envs.json", envs_doc)
    progress(f"wrote {out / 'envs.json'}")


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": code_path()}


def _ab(args: argparse.Namespace, pair: list, out: Path) -> int:
    from lbfgs_impl.commands.history import plan
    from lbfgs_impl.commands.history.wall import ab_rounds
    from lbfgs_impl.outputs import write_json_atomic

    envs = {}
    for release in pair:
        envs[f"optax {release.optax}"] = str(plan.build_env(args.envs, release, args.python, args.pip_cache))
    case = {"solver": "optax_while", "problem": "rosenbrock", "n": 100}
    progress(f"timing {' vs '.join(envs)}: {args.rounds} alternating rounds of {args.per_round} solves")
    doc = ab_rounds(
        envs, case, rounds=args.rounds, per_round=args.per_round, cpu=args.cpu, code_path=code_path()
    )
    doc["releases"] = [release.name for release in pair]
    write_json_atomic(out / "ab.json", doc)
    progress(f"wrote {out / 'ab.json'}; ratio of medians {doc['ratio_of_medians']:.3f}")
    return 0
