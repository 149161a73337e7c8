"""Are instruction counts a trustworthy gate? Spread, false alarms and detection, beside wall time.

1. **Spread**: every (solver, case) of the quick grid counted in ``--processes``
   separate processes (default 60).
2. **A/A**: unchanged runs of 3 processes each (the nightly's repeats) in pairs that
   share no process: pair j compares processes 6j..6j+2 with 6j+3..6j+5
   (:func:`aa_pairs`; 60 processes give 10 pairs); a pair alarms when
   ``check-regressions``' instruction rule flags any benchmark.
3. **Detection**: real extra compute injected into one solver (a truncated extra
   solve of 3%, 5%, 10% and 25% of its iterations, ``scripts/study/extra_work.py``)
   on the seed case, ``--detection-processes`` processes per level (default 30);
   pair k compares unchanged window k (processes 3k..3k+2) with slowed window k:
   within a level no process is in two pairs (10 pairs of 30 processes).
4. **Wall time on pairs built alike**: one pinned process per run timing
   ``--wall-rounds`` precompiled solves (not the counted processes), judged by
   check-regressions' time rule (median > 10% and Mann-Whitney p < 0.05), timed in rounds so
   that each pair shares its minutes: round k times unchanged runs 2k and 2k+1 (A/A pair k),
   then one run of each level (detection pair k: unchanged run 2k+1 against it).

Every finished phase (the spread six processes at a time, one A/A pair; each solver and
level; each solver's wall-time rounds) is saved to ``OUT/study-instructions.json`` at once, only with
every process counted: a run that stops (Ctrl-C, a session's end, a failed process) resumes
where it stopped when started again with the same ``--out``, settings, counted code and
valgrind (else it is refused; ``--redo-wall`` retimes finished counts with other code).
Levels share the unchanged windows and runs (the A/A row too):
pairs are independent within a level, not across levels. ``--skip-wall`` leaves the
wall-time phases for a later run (on a quiet machine); ``--redo-wall`` times them again.
Writes ``OUT/study.json``, ``OUT/summary.md``, ``OUT/instruction_spread.png`` and
``OUT/detection.png``. Usage (about 2 h on 2 idle cores with the defaults: 600 counted
processes, 120 timing processes):

    python scripts/instructions_study.py --out .study/instructions
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "study"))

SEED = ("rosenbrock", 100)


def windows(n: int, size: int = 3) -> list[list[int]]:
    """Disjoint windows of ``size`` process indices out of ``n`` (a remainder is left unused)."""
    return [list(range(i, i + size)) for i in range(0, n - size + 1, size)]


def aa_pairs(n: int, size: int = 3) -> list[tuple[list[int], list[int]]]:
    """A/A pairs of windows that share no process with each other or with any other pair."""
    w = windows(n, size)
    return [(w[2 * j], w[2 * j + 1]) for j in range(len(w) // 2)]


def pick(values: list[float], indices: list[int]) -> list[float]:
    return [values[i] for i in indices]


def relative_range(samples: list[float]) -> float:
    """(max - min) / median: the spread the gate's instruction limit is built from."""
    return (max(samples) - min(samples)) / statistics.median(samples)


def instruction_entry(samples: list[float]) -> dict[str, Any]:
    median = statistics.median(samples)
    return {"extra_info": {"instructions": median, "instructions_spread": relative_range(samples)}}


def time_entry(samples: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(samples, n=4)
    return {
        "stats": {
            "median": statistics.median(samples),
            "q1": q[0],
            "q3": q[2],
            "iqr": q[2] - q[0],
            "data": samples,
        }
    }


def time_one(solver: str, extra: float, rounds: int) -> None:
    """Child mode: pinned, precompiled, ``rounds`` timed solves; prints the samples as JSON."""
    from lbfgs_impl.measure.timing import pinned

    with pinned(-1):
        if extra:
            import extra_work

            extra_work.install(f"{solver}:{extra}")
        from lbfgs_impl.measure.timing import prepare_compiled, timed_run
        from lbfgs_impl.problems import make_problem
        from lbfgs_impl.solvers import SolverConfig, get_solver

        prepared = prepare_compiled(get_solver(solver), make_problem(*SEED), SolverConfig())
        prepared.run()
        samples = [timed_run(prepared)[0] for _ in range(rounds)]
    print(json.dumps(samples))


def wall_samples(solver: str, extra: float, rounds: int) -> list[float]:
    cmd = [
        sys.executable,
        __file__,
        "--time-one",
        solver,
        "--extra",
        str(extra),
        "--wall-rounds",
        str(rounds),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timing run failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def progress(label: str):
    def show(done: int, total: int) -> None:
        print(
            f"\r{label}: {done}/{total} processes",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )

    return show


#: processes of the spread phase counted (and saved) at a time: one A/A pair's
SPREAD_CHUNK = 6
#: the code the counts come from: a saved phase counted by other code is not mixed in
COUNTED_CODE = ("lbfgs_impl", "scripts/study", "scripts/instructions_study.py")


def _code_and_valgrind() -> dict[str, str]:
    """Git's hashes of :data:`COUNTED_CODE` at HEAD (``dirty`` when edited) and valgrind's version.

    Not the commit: a README edit between two parts of a study changes nothing it counts."""
    from lbfgs_impl.measure.instructions import valgrind_version

    root = HERE.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()

    trees = git("rev-parse", *(f"HEAD:{p}" for p in COUNTED_CODE)).split()
    code = "+".join(t[:12] for t in trees) or "unknown"
    if git("status", "--porcelain", "--untracked-files=no", "--", *COUNTED_CODE):
        code += "-dirty"
    return {"code": code, "valgrind": valgrind_version() or "none"}


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What the saved instruction phases must have been counted with to be resumed: the grid, the
    code and valgrind (a phase counted by other code or another valgrind is not mixed in)."""
    return {
        "processes": args.processes,
        "detection_processes": args.detection_processes,
        "solvers": list(args.solvers),
        "levels": list(args.levels),
        **_code_and_valgrind(),
    }


def counts_finished(study: dict[str, Any]) -> bool:
    """Every counted phase of the study's settings saved (the spread chunks and each solver's levels)."""
    settings = study["settings"]
    chunks = sum(name.startswith("spread ") for name in study["phase_seconds"])
    levels = sum(name.startswith("instructions ") for name in study["phase_seconds"])
    return chunks == settings["processes"] // SPREAD_CHUNK and levels == len(settings["solvers"]) * len(
        settings["levels"]
    )


def load_or_start(path: Path, settings: dict[str, Any], retime_wall: bool = False) -> dict[str, Any]:
    """The phases an earlier run with the same settings finished, or an empty study.

    Other code is accepted only where nothing will be counted with it: every counted phase is
    saved and this code times the wall-time runs again (``retime_wall``, for ``--redo-wall``, which
    records it as ``wall_code`` for a resumed run); the counts keep the code they were counted
    with (``settings["code"]``)."""
    if not path.exists():
        return {
            "settings": settings,
            "processes": settings["processes"],
            "detection_processes": settings["detection_processes"],
            "spread": {},
            "slowed": {},
            "wall": {},
            "wall_rounds": None,
            "phase_seconds": {},
        }
    study = json.loads(path.read_text())
    if "settings" not in study:
        raise SystemExit(f"{path} was written before studies could resume: give another --out")
    saved = study["settings"]
    differ = sorted(k for k in settings if saved.get(k) != settings[k])
    retimed = retime_wall or study.get("wall_code") == settings.get("code")
    if differ == ["code"] and retimed and counts_finished(study):
        differ = []  # only the wall time is measured with this code, and it is recorded as such
    wall_code = study.get("wall_code")
    if not differ and study["wall"] and wall_code not in (None, settings.get("code")) and not retime_wall:
        # wall time retimed by other code: its phases are not resumed (nor kept) under this code's name
        raise SystemExit(
            f"{path}: its wall time was timed with code {wall_code}, not this one: add --redo-wall"
        )
    if differ:
        was = ", ".join(f"{k}={saved.get(k)}" for k in differ)
        now = ", ".join(f"{k}={settings[k]}" for k in differ)
        hint = (
            " (finished counts: --redo-wall retimes the wall time with this code)"
            if differ == ["code"]
            else ""
        )
        raise SystemExit(
            f"{path} holds a study with other settings ({was}; now {now}): give another --out{hint}"
        )
    return study


def complete(label: str, samples: list[float], errors: list[str], expected: int) -> None:
    """A phase is saved only with every process counted; otherwise it raises (a rerun redoes it)."""
    if errors or len(samples) != expected:
        raise RuntimeError(
            f"{label}: {len(samples)} of {expected} processes counted; not saved, run again to redo it: "
            f"{errors[:1]}"
        )


def _phase(study: dict[str, Any], path: Path, name: str, measure: Any) -> None:
    """Run one phase unless the saved study has it, then save the study (atomically)."""
    from lbfgs_impl.outputs import write_json_atomic

    if name in study["phase_seconds"]:
        print(f"{name}: kept from {path}", file=sys.stderr)
        return
    t0 = time.monotonic()
    measure()
    study["phase_seconds"][name] = round(time.monotonic() - t0, 1)
    write_json_atomic(path, study)


def wall_rounds_of(
    levels: list[float], pairs: int, time_run: Callable[[float], list[float]]
) -> dict[float, list[list[float]]]:
    """Timing processes in rounds, so that every pair shares its minutes (this VM drifts in phases):
    round k times unchanged runs 2k and 2k+1 (A/A pair k), then one run of each level (detection
    pair k: unchanged run 2k+1, the one just before, against that level's run k)."""
    runs: dict[float, list[list[float]]] = {level: [] for level in [0.0, *levels]}
    for k in range(pairs):
        print(f"\rwall time: round {k + 1}/{pairs}", end="", file=sys.stderr, flush=True)
        runs[0.0] += [time_run(0.0), time_run(0.0)]
        for level in levels:
            runs[level].append(time_run(level))
    print(file=sys.stderr)
    return runs


def wall_base(study: dict[str, Any], k: int) -> int:
    """The unchanged run detection pair k is timed against: 2k+1 in rounds (this script), run k in
    studies timed level after level (before the rounds; their ratios include the drift between levels)."""
    return 2 * k + 1 if study.get("wall_order") == "rounds" else k


def run_study(args: argparse.Namespace) -> dict[str, Any]:
    from lbfgs_impl.cases import QUICK_CASES
    from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions
    from lbfgs_impl.solvers import SEED_SOLVERS
    from lbfgs_impl.tracking.runs import percent

    path = Path(args.out) / "study-instructions.json"
    study = load_or_start(path, settings_of(args))
    # JAX's persistent cache kept beside the study: every chunk and every resumed run loads the solves
    # compiled once (compiling under valgrind is ~5x slower); only the solve is counted, so the counts
    # are the same (lbfgs_impl.measure.instructions)
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(args.out).resolve() / "jax-cache"))

    tasks = [InstructionTask(s, c.problem, c.n, c.config()) for c in QUICK_CASES for s in SEED_SOLVERS]
    for first in range(0, args.processes, SPREAD_CHUNK):  # one A/A pair's processes a phase
        label = f"spread {first}-{first + SPREAD_CHUNK - 1}"

        def spread(label: str = label) -> None:
            report = measure_instructions(tasks, repeats=SPREAD_CHUNK, progress=progress(label))
            if report.skipped:
                raise SystemExit(f"instruction counts unavailable: {report.skipped}")
            for key, c in report.counts.items():
                complete(f"{label} {key}", c.solve, c.errors, SPREAD_CHUNK)
            study.setdefault("meta", report.meta)
            for key, c in report.counts.items():
                entry = study["spread"].setdefault(key, {"samples": [], "total_samples": []})
                entry["samples"] += c.solve
                entry["total_samples"] += c.solve_total

        _phase(study, path, label, spread)
    for entry in study["spread"].values():
        entry["spread"] = relative_range(entry["samples"])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(HERE / "study"), os.environ.get("PYTHONPATH")])
    )
    for solver in args.solvers:
        for level in args.levels:

            def slowed(solver: str = solver, level: float = level) -> None:
                os.environ["LBFGS_BENCH_EXTRA_WORK"] = f"{solver}:{level}"
                try:
                    report = measure_instructions(
                        [InstructionTask(solver, *SEED)],
                        repeats=args.detection_processes,
                        plugins=["extra_work"],
                        progress=progress(f"{solver} +{percent(level)}"),
                    )
                finally:
                    os.environ.pop("LBFGS_BENCH_EXTRA_WORK", None)
                (c,) = report.counts.values()
                complete(f"{solver} +{percent(level)}", c.solve, c.errors, args.detection_processes)
                study["slowed"][f"{solver}:{level}"] = {"samples": c.solve, "errors": c.errors}

            _phase(study, path, f"instructions {solver}:{level}", slowed)
    if not args.skip_wall:
        if study["wall"] and study.get("wall_order") != "rounds":
            raise SystemExit(f"{path}: its wall time was timed level after level: add --redo-wall (rounds)")
        if study["wall"] and study.get("wall_rounds") != args.wall_rounds:
            raise SystemExit(
                f"{path}: its wall-time runs timed {study.get('wall_rounds')} rounds, not "
                f"{args.wall_rounds}: add --redo-wall to time them again"
            )
        code = settings_of(args)["code"]
        if study["wall"] and study.get("wall_code", code) != code:  # load_or_start refuses this; kept honest
            raise SystemExit(
                f"{path}: its wall time was timed with code {study['wall_code']}: add --redo-wall"
            )
        study.update(wall_rounds=args.wall_rounds, wall_order="rounds", wall_code=code)
        pairs = len(windows(study["detection_processes"]))
        for solver in args.solvers:

            def wall(solver: str = solver) -> None:
                runs = wall_rounds_of(
                    args.levels, pairs, lambda level: wall_samples(solver, level, args.wall_rounds)
                )
                for level, timed in runs.items():
                    study["wall"][f"{solver}:{level}"] = timed

            _phase(study, path, f"wall {solver}", wall)
    study["seconds_total"] = sum(study["phase_seconds"].values())
    return study


def direction(finding: Any) -> int:
    """1: flagged slower (an alarm), -1: flagged faster, 0: not flagged."""
    return 0 if finding is None else 1 if finding.ratio > 1 else -1


def verdicts(study: dict[str, Any]) -> dict[str, Any]:
    from lbfgs_impl.tracking.regressions import Thresholds, instruction_change, time_change

    th = Thresholds()
    n = study["processes"]
    out: dict[str, Any] = {"aa": [], "detection": {}}
    # the false-alarm rate each detection level is read against: the seed case's own A/A pairs
    # (direction: 1 flagged slower, -1 faster, 0 quiet; the wall-time A/A alike)
    solver_of = {
        f"{solver}/{SEED[0]}-{SEED[1]}": solver
        for solver in dict.fromkeys(s.split(":")[0] for s in study["slowed"])
    }
    out["aa_seed"] = {solver: [] for solver in solver_of.values()}
    for wa, wb in aa_pairs(n):
        flagged = []
        for key, entry in study["spread"].items():
            a, b = pick(entry["samples"], wa), pick(entry["samples"], wb)
            f = instruction_change(key, instruction_entry(a), instruction_entry(b), th)
            if f is not None:
                flagged.append(f"{key} {f.ratio:.4f}")
            if key in solver_of:
                out["aa_seed"][solver_of[key]].append(direction(f))
        out["aa"].append(flagged)
    for spec, entry in study["slowed"].items():
        solver = spec.split(":")[0]
        base = study["spread"][f"{solver}/{SEED[0]}-{SEED[1]}"]["samples"]
        rows = []
        # pair k: unchanged window k against slowed window k (no process of a level in two pairs)
        for k, w in enumerate(windows(len(entry["samples"]))):
            a, b = pick(base, w), pick(entry["samples"], w)
            f = instruction_change(spec, instruction_entry(a), instruction_entry(b), th)
            row = {
                "ratio": statistics.median(b) / statistics.median(a),
                "instructions_direction": direction(f),
            }
            wall = study["wall"]
            if wall:
                base_runs, slow_runs = wall[f"{solver}:0.0"], wall[spec]
                base_run = base_runs[wall_base(study, k)]
                t = time_change(spec, time_entry(base_run), time_entry(slow_runs[k]), th)
                row["wall_ratio"] = statistics.median(slow_runs[k]) / statistics.median(base_run)
                row["wall_direction"] = direction(t)
            rows.append(row)
        out["detection"][spec] = rows
    if study["wall"]:  # wall-time A/A: unchanged run 2j vs unchanged run 2j+1, no run reused
        out["wall_aa"] = {}
        for solver in dict.fromkeys(s.split(":")[0] for s in study["slowed"]):
            runs = study["wall"][f"{solver}:0.0"]
            out["wall_aa"][solver] = [
                direction(time_change(solver, time_entry(runs[2 * j]), time_entry(runs[2 * j + 1]), th))
                for j in range(len(runs) // 2)
            ]
    return out


def flagged_both_ways(directions: list[int]) -> str:
    """``"4/10 slower (+4 faster)"``: A/A pairs flagged slower (alarms), then those flagged faster."""
    slower, faster = directions.count(1), directions.count(-1)
    return f"{slower}/{len(directions)} slower" + (f" (+{faster} faster)" if faster else "")


def write_outputs(study: dict[str, Any], result: dict[str, Any], out: Path) -> None:
    from lbfgs_impl.outputs import atomic_write_text, write_json_atomic
    from lbfgs_impl.plots import study as study_figures

    write_json_atomic(out / "study.json", {"study": study, "verdicts": result})
    n, pairs = study["processes"], study_figures.detection_pairs(result)

    study_figures.instruction_spread(study, out / "instruction_spread.png")
    study_figures.detection(study, result, out / "detection.png")

    from lbfgs_impl.tracking.runs import Thresholds, percent

    th = Thresholds()
    lines = ["# Instruction counts as a regression gate: study", ""]
    m = study["meta"]
    engine = f"engine `{m['engine']}`, " if m.get("engine") else ""
    flags = f" (flags `{' '.join(m['valgrind_flags'])}`)" if m.get("valgrind_flags") else ""
    timed = any(rows and all("wall_direction" in r for r in rows) for rows in result["detection"].values())
    lines += [
        f"{engine}{m['valgrind']}{flags}, ASLR {'off' if m['aslr_disabled'] else 'on'}, {n} processes per "
        f"benchmark (spread, A/A), {study.get('detection_processes', n)} per detection level; "
        f"{study['seconds_total']:.0f} s in all.",
        "",
        f"Verdicts by the gate's instruction rule: a change beyond {th.instructions_spread_factor:g} x the "
        f"baseline window's spread, at least {percent(th.instructions)}, "
        f"at most {percent(th.instructions_cap)}."
        + ("" if timed else " Wall time was not measured in this study (`--skip-wall`)."),
        "",
        "## Spread over processes",
        "",
        "| benchmark | median (M) | spread (max-min)/median | total incl. thread-pool spin, spread |",
        "|---|---|---|---|",
    ]
    for key, e in study["spread"].items():
        s, tot = e["samples"], e["total_samples"]
        med = statistics.median(s)
        lines.append(f"| {key} | {med / 1e6:.3f} | {relative_range(s):.3%} | {relative_range(tot):.3%} |")
    aa_alarms = sum(bool(f) for f in result["aa"])
    lines += [
        "",
        f"## A/A: {aa_alarms} of {len(result['aa'])} pairs of unchanged runs alarmed on instructions",
        "",
    ]
    lines += [
        f"- pair {k} (processes {wa} vs {wb}): {', '.join(f) if f else 'quiet'}"
        for k, ((wa, wb), f) in enumerate(zip(aa_pairs(n), result["aa"], strict=True))
    ]
    for solver, flags in result.get("wall_aa", {}).items():
        lines.append(f"- wall time, {solver} seed case, unchanged pairs flagged: {flagged_both_ways(flags)}")
    lines += [
        "",
        f"## Detection (pairs flagged of {pairs}: disjoint windows of 3 processes)",
        "",
        "Injected: after each solve, a truncated second solve of that fraction of the solve's "
        "iterations (`scripts/study/extra_work.py`); the ratio is the change it made in the count, "
        "slowed window against unchanged window.",
        "",
    ]
    lines += [
        "| injected | solver | instruction ratio (median) | flagged: instructions "
        "| wall ratio (median) | flagged: wall time |"
    ]
    lines += ["|---|---|---|---|---|---|"]
    shown: set[str] = set()
    for spec, rows in result["detection"].items():
        solver, level = spec.split(":")
        if solver not in shown:  # 0% injected, first: the false-alarm rate its levels are read against
            shown.add(solver)
            flags, wall_flags = result.get("aa_seed", {}).get(solver), result.get("wall_aa", {}).get(solver)
            instr = flagged_both_ways(flags) if flags else "-"
            wall = flagged_both_ways(wall_flags) if wall_flags else "-"
            lines.append(f"| 0% (A/A) | {solver} | - | {instr} | - | {wall} |")
        ratio = statistics.median(r["ratio"] for r in rows)
        instr = flagged_both_ways([r["instructions_direction"] for r in rows])
        if rows and all("wall_direction" in r for r in rows):
            wall_ratio = f"{statistics.median(r['wall_ratio'] for r in rows):.3f}"
            wall = flagged_both_ways([r["wall_direction"] for r in rows])
        else:
            wall_ratio = wall = "-"
        lines.append(
            f"| +{percent(float(level))} | {solver} | {ratio:.4f} | {instr} | {wall_ratio} | {wall} |"
        )
    lines += ["", "![spread](instruction_spread.png)", "", "![detection](detection.png)", ""]
    atomic_write_text(out / "summary.md", "\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".study/instructions")
    parser.add_argument(
        "--processes", type=int, default=60, help="processes per benchmark (60: 10 A/A pairs)"
    )
    parser.add_argument(
        "--detection-processes",
        type=int,
        default=30,
        help="processes per injected level (30: 10 detection pairs)",
    )
    parser.add_argument(
        "--levels", type=lambda t: [float(x) for x in t.split(",")], default=[0.03, 0.05, 0.10, 0.25]
    )
    parser.add_argument("--solvers", type=lambda t: t.split(","), default=["optax_while", "scipy"])
    parser.add_argument("--wall-rounds", type=int, default=10)
    parser.add_argument("--skip-wall", action="store_true")
    parser.add_argument(
        "--replot", metavar="JSON", help="redraw figures and summary from a finished study.json"
    )
    parser.add_argument(
        "--redo-wall",
        action="store_true",
        help="measure the wall-time phases again, keeping the saved instruction phases (a quiet machine)",
    )
    parser.add_argument("--time-one", metavar="SOLVER", help=argparse.SUPPRESS)
    parser.add_argument("--extra", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_one:
        time_one(args.time_one, args.extra, args.wall_rounds)
        return 0
    if args.processes < 6 or not 3 <= args.detection_processes <= args.processes:
        parser.error(
            f"--processes must be >= 6 (one A/A pair) and --detection-processes between 3 and it "
            f"(got {args.processes} and {args.detection_processes})"
        )
    if args.processes % SPREAD_CHUNK or args.detection_processes % 3:
        parser.error(
            f"--processes must be a multiple of {SPREAD_CHUNK} and --detection-processes of 3 (whole pairs)"
        )
    from lbfgs_impl.solvers import SEED_SOLVERS

    if not set(args.solvers) <= set(SEED_SOLVERS):
        parser.error(f"--solvers: choose among {', '.join(SEED_SOLVERS)} (the spread phase counts those)")
    if args.redo_wall and args.skip_wall:
        parser.error("--redo-wall and --skip-wall contradict each other")
    out = Path(args.out)
    from lbfgs_impl.outputs import check_writable, write_json_atomic

    check_writable(out / "study.json")
    if args.replot:  # figures and summary again from a finished study.json
        study = json.loads(Path(args.replot).read_text())["study"]
        write_outputs(study, verdicts(study), out)
        return 0
    if args.redo_wall:
        path = out / "study-instructions.json"
        if not path.exists():
            parser.error(f"--redo-wall: no saved study in {path}")
        saved = load_or_start(path, settings_of(args), retime_wall=True)
        saved["wall"], saved["wall_rounds"], saved["wall_code"] = {}, None, settings_of(args)["code"]
        phases = saved["phase_seconds"]
        saved["phase_seconds"] = {k: v for k, v in phases.items() if not k.startswith("wall ")}
        write_json_atomic(path, saved)
        print(f"wall-time runs cleared in {path}; if this stops, resume without --redo-wall", file=sys.stderr)
    study = run_study(args)
    write_outputs(study, verdicts(study), out)
    print(f"wrote {out}/summary.md, study.json, instruction_spread.png, detection.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
