"""Record how long one ``lbfgs-bench profile --instructions`` run took, for the engine results page.

    python scripts/record_profile_run.py PROFILE_OUTDIR RUN_DIR OUT.json

``PROFILE_OUTDIR`` is the profile's output (its ``results.json`` gives the tasks, the instruction
phase's seconds, the counts and the machine); ``RUN_DIR`` holds what the shell around the run
wrote: ``time.txt`` (``/usr/bin/time -v`` of the whole command), ``load_before`` and
``load_after`` (``/proc/loadavg``), ``started`` and ``ended`` (UTC). Nothing is estimated: a file
that is missing is an error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lbfgs_impl.outputs import write_json_atomic


def _seconds(text: str, label: str) -> float:
    found = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.M)
    if not found:
        raise SystemExit(f"record_profile_run: no '{label}' in time.txt")
    value = found.group(1).strip()
    if ":" in value:  # Elapsed (wall clock) time (h:mm:ss or m:ss): 31:02.11
        parts = [float(p) for p in value.split(":")]
        return sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return float(value)


def _command(text: str, profile_dir: Path) -> str:
    """The command ``/usr/bin/time -v`` ran, its output folder written ``OUTDIR``."""
    found = re.search(r'^\s*Command being timed: "(.+)"$', text, re.M)
    if not found:
        raise SystemExit("record_profile_run: no 'Command being timed' in time.txt")
    words = found.group(1).split()
    return " ".join(
        "OUTDIR" if _same_path(w, profile_dir) else Path(w).name if _installed(w) else w for w in words
    )


def _installed(word: str) -> bool:
    """A program named by its absolute path in a ``bin`` folder (a virtualenv's): shown by its name."""
    return word.startswith("/") and Path(word).parent.name == "bin"


def _same_path(word: str, path: Path) -> bool:
    """Whether the command's ``word`` names ``path`` (``run/out``, ``./run/out/``, an absolute path)."""
    try:
        return Path(word).resolve() == path.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def _workers(inst: dict) -> int | None:
    """The counting workers: one a CPU of ``worker_cpus`` (the built-in pool, the embedded cluster);
    on a scheduler's cluster (``worker_cpus`` is a sentence) those that took a sample; None unknown."""
    cpus = inst.get("worker_cpus")
    if isinstance(cpus, list):
        return len(cpus) or None
    machines = inst.get("task_machines") or {}
    return len({m["worker"] for ms in machines.values() for m in ms if m.get("worker")}) or None


def record(profile_dir: Path, run_dir: Path) -> dict:
    import json

    doc = json.loads((profile_dir / "results.json").read_text())
    meta = doc["meta"]
    inst = meta.get("instructions") or {}
    if not inst.get("tasks") or not isinstance(inst.get("phase_s"), (int, float)):
        why = inst.get("skipped") or "no instruction phase (was it run with --instructions?)"
        raise SystemExit(f"record_profile_run: {profile_dir / 'results.json'} has no counted tasks: {why}")
    timing = (run_dir / "time.txt").read_text()
    counted = sum(run.get("instructions") is not None for run in doc["runs"])
    return {
        "kind": "profile",
        "command": _command(timing, profile_dir),
        "workers": _workers(inst),
        "scheduler": inst.get("scheduler"),
        "problems": len(doc["problems"]),
        "solvers": doc["solvers"],
        "tasks": inst.get("tasks"),
        "instruction_phase_s": inst.get("phase_s"),
        "wall_s": _seconds(timing, "Elapsed (wall clock) time (h:mm:ss or m:ss)"),
        "cpu_s": _seconds(timing, "User time (seconds)") + _seconds(timing, "System time (seconds)"),
        "tasks_counted": counted,
        "load_before": [float(x) for x in (run_dir / "load_before").read_text().split()[:3]],
        "load_after": [float(x) for x in (run_dir / "load_after").read_text().split()[:3]],
        "started": (run_dir / "started").read_text().strip(),
        "ended": (run_dir / "ended").read_text().strip(),
        "machine": {k: meta.get(k) for k in ("cpu", "cpu_count", "versions", "python", "pinning")},
        "meta": {"engine": inst.get("engine"), "environment": inst.get("environment") or {}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="record_profile_run.py")
    parser.add_argument("profile_dir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    write_json_atomic(args.out, record(args.profile_dir, args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
