"""The whole nightly, night after night: false alarms on unchanged code, detection of a real change.

1. A scratch git repository is made from this checkout (committed, clean: the nightly
   records the commit), with its own ``NIGHTLY_DIR`` and results store (a bare repository).
2. Night 0 seeds the history (exit 2, "no baseline"); the unchanged nights run
   ``scripts/nightly.sh`` on the same commit with the same libraries on the same machine:
   every exit other than 0 is a false alarm.
3. A second scratch repository gets ``scripts/study/extra_gradient.py`` committed on top (one
   extra value-and-gradient per optax iteration: the body of optax_while's ``lax.while_loop``)
   and, as its results store, a copy of the store holding night 0 alone; each changed night is
   compared with that unchanged night (a night that regressed never becomes a baseline): an
   exit 1 whose report flags the instructions of an optax benchmark is a detection.
4. Unchanged and changed nights alternate (U C U C ... then the remaining unchanged ones),
   so a study stopped early still has both figures.

Every night's exit code, findings (signal per benchmark), noise-classified time findings
and duration go to ``OUT/nights.json`` as soon as the night ends (the study can be stopped
and resumed), with ``OUT/summary.md``; each report is kept as ``OUT/reports/<night>.md``.
Usage (hours on the quick grid; run it niced on a shared machine):

    nice -n 10 python scripts/nightly_study.py --out .study/nightly --unchanged 10 --changed 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "study"))


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=study", "-c", "user.email=study@localhost", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def scratch_repo(path: Path) -> Path:
    """A committed copy of the project (package, perf suite, scripts) in ``path``."""
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True)
    for item in ("lbfgs_impl", "perf", "scripts", "pyproject.toml", "README.md"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, path / item)
    (path / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "study baseline")
    return path


def changed_repo(out: Path) -> Path:
    """The repository with the extra evaluation committed (its store: a copy made after night 0)."""
    repo = out / "repo-changed"
    if not repo.exists():
        import extra_gradient

        shutil.copytree(out / "repo", repo)
        extra_gradient.apply(repo)
        git(repo, "commit", "-qam", "one extra value-and-gradient per optax iteration")
    return repo


def findings(report: str) -> dict[str, list[str]]:
    """Signal per benchmark in the report's regressions and noise tables."""
    out: dict[str, list[str]] = {}
    for section, title in (("regressions", "## Regressions"), ("noise", "## Noise")):
        if title not in report:
            out[section] = []
            continue
        body = report.split(title, 1)[1].split("\n## ", 1)[0]
        out[section] = [
            f"{m.group(1)}: {m.group(2)}" for m in re.finditer(r"^\| `([^`]+)` \| ([^|]+?) \|", body, re.M)
        ]
    return out


def run_night(repo: Path, nightly_dir: Path, store: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, RESULTS_REMOTE=str(store))
    env["PYTHONPATH"] = str(repo)
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")]
    )  # python, lbfgs-bench
    env.update(NIGHTLY_DIR=str(nightly_dir), PERF_SIZE=args.size, CONFIRM=str(args.confirm))
    if args.perf_args:
        env["PERF_ARGS"] = args.perf_args
    t0 = time.monotonic()
    proc = subprocess.run(["bash", "scripts/nightly.sh"], cwd=repo, env=env, capture_output=True, text=True)
    report_path = nightly_dir / "report.md"
    report = report_path.read_text() if report_path.exists() else ""
    return {
        "rc": proc.returncode,
        "seconds": round(time.monotonic() - t0, 1),
        "commit": git(repo, "rev-parse", "HEAD")[:10],
        "findings": findings(report),
        "stdout_tail": proc.stdout.strip().splitlines()[-3:],
        "stderr_tail": proc.stderr.strip().splitlines()[-5:] if proc.returncode not in (0, 1) else [],
        "report": report,
    }


def summarize(nights: list[dict[str, Any]], args: argparse.Namespace) -> str:
    unchanged = [n for n in nights if n["phase"] == "unchanged"]
    changed = [n for n in nights if n["phase"] == "changed"]
    alarms = [n for n in unchanged if n["rc"] != 0]
    detected = [
        n
        for n in changed
        if n["rc"] == 1 and any("optax" in f and ": instructions" in f for f in n["findings"]["regressions"])
    ]
    lines = [
        "# The nightly on unchanged code and on a real change",
        "",
        f"Grid {args.size}, confirmation {'on' if args.confirm else 'off'}; "
        f"{len(unchanged)} of {args.unchanged} unchanged night(s), {len(changed)} of {args.changed} changed "
        "night(s) completed.",
        "",
        f"- false alarms (exit != 0 on unchanged code): **{len(alarms)} of {len(unchanged)}**",
        f"- detections of one extra value-and-gradient per optax iteration (exit 1 with an optax "
        f"instruction finding): **{len(detected)} of {len(changed)}**",
        "",
        "| night | phase | commit | exit | regressions | noise (not alerted) | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in nights:
        regs = "; ".join(n["findings"]["regressions"]) or "-"
        noise = len(n["findings"]["noise"])
        lines.append(
            f"| {n['night']} | {n['phase']} | {n['commit']} | {n['rc']} | {regs} | {noise} | {n['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def save(out: Path, nights: list[dict[str, Any]], args: argparse.Namespace) -> None:
    for path, text in (
        (
            out / "nights.json",
            json.dumps([{k: v for k, v in n.items() if k != "report"} for n in nights], indent=1),
        ),
        (out / "summary.md", summarize(nights, args)),
    ):
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_text(text)
        os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--unchanged", type=int, default=10, help="unchanged nights after the seed (default 10)"
    )
    parser.add_argument("--changed", type=int, default=5, help="nights on the changed commit (default 5)")
    parser.add_argument("--size", default="quick", help="perf grid (default quick)")
    parser.add_argument("--confirm", type=int, choices=(0, 1), default=1, help="A/B confirmation (default 1)")
    parser.add_argument("--perf-args", default="", help="extra pytest options for every night")
    args = parser.parse_args(argv)
    out = args.out
    (out / "reports").mkdir(parents=True, exist_ok=True)
    repo, nightly_dir, store = scratch_repo(out / "repo"), out / "nightly", out / "results.git"
    if not store.exists():
        subprocess.run(["git", "init", "-q", "--bare", str(store)], check=True)
    done = json.loads((out / "nights.json").read_text()) if (out / "nights.json").exists() else []
    plan = [("seed", 0)]
    for i in range(max(args.unchanged, args.changed)):
        plan += [("unchanged", len(plan))] if i < args.unchanged else []
        plan += [("changed", len(plan))] if i < args.changed else []
    for phase, night in plan:
        if any(n["night"] == night for n in done):
            continue
        where, directory, results = repo, nightly_dir, store
        if phase == "changed":
            where, directory, results = (
                changed_repo(out),
                out / "nightly-changed",
                out / "results-changed.git",
            )
        print(f"night {night} ({phase}) ...", flush=True)
        result = run_night(where, directory, results, args)
        (out / "reports" / f"{night}.md").write_text(result["report"])
        done.append({"night": night, "phase": phase, **result})
        save(out, done, args)
        print(f"night {night}: exit {result['rc']} in {result['seconds']} s", flush=True)
        if phase == "seed" and "seeds the history" not in "\n".join(result["stdout_tail"]):
            print("the seed night did not seed the history; see the report", flush=True)
            return 1
        if phase == "seed":  # the changed nights' store: night 0 alone
            subprocess.run(
                ["git", "clone", "-q", "--bare", str(store), str(out / "results-changed.git")], check=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
