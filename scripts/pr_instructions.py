"""Count the quick grid's instructions on a pull request's head and on its base, and compare them.

Each commit is checked out in its own ``git worktree`` and its steady benchmarks are counted
under callgrind (``pytest perf -k test_steady --perf-size quick --perf-instructions``, one timed
round: only the counts are read); ``lbfgs-bench check-regressions`` then compares head with
base. Instruction counts do not depend on the runner's load, so the two commits need not run
side by side; wall time from one round is not compared (the gate holds a time finding whose
count did not move). The comparison, as Markdown, is appended to ``--summary`` (the job summary
on GitHub Actions) and written to ``OUT/summary.md`` for a comment.

    python scripts/pr_instructions.py --base BASE_SHA --head HEAD_SHA --out .pr [--summary FILE]

Exit: the gate's (0 nothing found, 1 a regression, 2 not comparable, 3 an error), or 3 when a
commit could not be counted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lbfgs_impl.tracking.confirm import ConfirmationError, output_tail, remove_worktrees, run_git  # noqa: E402


def count(repo: Path, rev: str, out: Path, select: str, perf_args: list[str], tmp: Path) -> str | None:
    """Count ``rev``'s steady quick-grid benchmarks into ``out``; why not, or None when it worked."""
    tree = tmp / f"tree-{rev[:12]}"
    try:
        run_git(repo, "worktree", "add", "--detach", str(tree), rev)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
        )
        cmd = [sys.executable, "-m", "pytest", "perf", "-q", "-p", "no:cacheprovider", "--perf-size", "quick"]
        cmd += ["-k", select, "--perf-instructions", "--benchmark-min-rounds=1", "--benchmark-max-time=0"]
        cmd += ["--benchmark-warmup=off", f"--benchmark-json={out}", *perf_args]
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = output_tail(proc.stdout + proc.stderr)
            return f"`pytest perf` at {rev[:10]} failed (exit {proc.returncode}): {tail}"
        return None
    finally:
        remove_worktrees(repo, {"tree": tree})


def compare(base_json: Path, head_json: Path, report: Path) -> int:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lbfgs_impl",
            "check-regressions",
            str(base_json),
            str(head_json),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    return proc.returncode


def summary(base: str, head: str, rc: int, report: str, select: str, perf_args: list[str]) -> str:
    verdict = {0: "no change beyond the limits", 1: "**a regression**", 2: "**not comparable**"}.get(
        rc, "**an error**"
    )
    selection = " ".join(["-k", shlex.quote(select), *map(shlex.quote, perf_args)])
    body = report.split("\n", 2)[2] if report.startswith("# ") else report
    return (
        f"## Instruction counts: head {head[:10]} against base {base[:10]}\n\n"
        f"Quick grid (`pytest perf --perf-size quick {selection} --perf-instructions`), "
        f"counted under callgrind on each commit; `lbfgs-bench check-regressions` exit {rc}: {verdict}.\n\n"
        f"{body}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the pull request's base commit")
    parser.add_argument("--head", required=True, help="the pull request's head commit")
    parser.add_argument("--out", type=Path, default=Path(".pr"), help="where the JSON and summary.md go")
    parser.add_argument(
        "--summary", type=Path, help="append the Markdown here too (e.g. $GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository (default: this one)")
    parser.add_argument(
        "--select",
        default="test_steady",
        help="pytest -k expression (default: test_steady, the counted ones)",
    )
    parser.add_argument("--perf-args", default="", help="extra pytest options, split like a shell would")
    args = parser.parse_args(argv)
    perf_args = shlex.split(args.perf_args)
    args.out.mkdir(parents=True, exist_ok=True)
    files = {side: args.out / f"{side}.json" for side in ("base", "head")}
    report = args.out / "report.md"
    try:
        revs = {
            side: run_git(args.repo, "rev-parse", "--verify", f"{getattr(args, side)}^{{commit}}")
            for side in files
        }
        with tempfile.TemporaryDirectory(prefix="lbfgs-bench-pr-") as tmp:
            failed = [
                why
                for side in files
                if (why := count(args.repo, revs[side], files[side], args.select, perf_args, Path(tmp)))
            ]
    except ConfirmationError as exc:
        failed = [str(exc)]
    if failed:
        rc, text = 3, "\n\n".join(failed) + "\n"
        revs = {"base": args.base, "head": args.head}
    else:
        rc = compare(files["base"], files["head"], report)
        text = report.read_text() if report.exists() else "check-regressions wrote no report\n"
    markdown = summary(revs["base"], revs["head"], rc, text, args.select, perf_args)
    (args.out / "summary.md").write_text(markdown)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as fh:
            fh.write(markdown)
    print(markdown)
    return rc


if __name__ == "__main__":
    sys.exit(main())
