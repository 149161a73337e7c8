"""The results store: every night's pytest-benchmark JSON kept in git, where no cache eviction reaches it.

A branch (default ``benchmark-results``) of a repository the nightly may push to holds
``<machine id>/NNNN_<commit>_<time>.json`` files, the layout ``pytest --benchmark-storage``
writes, so ``check-regressions --history`` reads a checkout of it as it is. Each file is the
night's full pytest-benchmark JSON (machine, commit, library versions, raw samples, counts and
their environment) plus the nightly's verdict under :data:`~lbfgs_impl.tracking.runs.GATE_KEY`:
``{"exit": 0, "baseline": true, "outcome": "...", "seed": false}``; only nights whose
``baseline`` is true serve as baselines, and none from before the last ``seed`` (a first night
or a reseed). ``put-dir``/``get-dir`` keep a folder (asv's results) on the same branch.

Plain git commands only: ``clone --depth 1`` of the branch (an orphan branch is started when
the repository has none), a commit, a ``push``. Run as
``python -m lbfgs_impl.tracking.store {fetch,append,put-dir,get-dir} ...``; a failure is one line
on stderr and exit 3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lbfgs_impl.tracking.history import STORAGE_FILE, machine_id
from lbfgs_impl.tracking.runs import GATE_KEY

BRANCH = "benchmark-results"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "lbfgs-bench nightly",
    "GIT_AUTHOR_EMAIL": "lbfgs-bench-nightly@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "lbfgs-bench nightly",
    "GIT_COMMITTER_EMAIL": "lbfgs-bench-nightly@users.noreply.github.com",
}


class StoreError(Exception):
    """The store could not be read or written (git failed): the night has no verdict (exit 3)."""


def _git(cwd: Path | None, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_IDENTITY, "GIT_TERMINAL_PROMPT": "0"}
    cmd = ["git", *(["-C", str(cwd)] if cwd else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode not in ok:
        said = " | ".join(line for line in (proc.stderr + proc.stdout).splitlines() if line.strip())
        raise StoreError(f"git {' '.join(args)} failed: {said or f'exit {proc.returncode}'}")
    return proc


def checkout(remote: str, branch: str, into: Path) -> bool:
    """A shallow checkout of ``branch`` in ``into``; an empty orphan branch when it does not exist yet."""
    found = _git(None, "ls-remote", "--exit-code", "--heads", remote, f"refs/heads/{branch}", ok=(0, 2))
    if into.exists():
        shutil.rmtree(into)
    if found.returncode == 0:
        _git(
            None, "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", branch, remote, str(into)
        )
        return True
    into.mkdir(parents=True)
    _git(into, "init", "--quiet")
    _git(into, "checkout", "--quiet", "--orphan", branch)
    _git(into, "remote", "add", "origin", remote)
    return False


def nights(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if STORAGE_FILE.match(p.name) and ".git" not in p.parts)


def usable_nights(folder: Path) -> int:
    """How many stored nights may serve as a baseline."""
    count = 0
    for path in nights(folder):
        gate = json.loads(path.read_text(encoding="utf-8")).get(GATE_KEY)
        count += not isinstance(gate, dict) or gate.get("baseline") is True
    return count


def fetch(remote: str, branch: str, into: Path) -> int:
    """Check the store out into ``into``; the number of usable nights in it."""
    checkout(remote, branch, into)
    return usable_nights(into)


def _push(tree: Path, branch: str, message: str) -> None:
    _git(tree, "add", "-A")
    _git(tree, "commit", "--quiet", "-m", message)
    _git(tree, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")


def append(
    remote: str, branch: str, night: Path, *, exit_code: int, baseline: bool, outcome: str, seed: bool = False
) -> str:
    """Add one night to the store with the nightly's verdict; its path in the store.

    ``seed``: the night starts the series anew (a first night, or a reseed): the nights before it
    are no longer the baseline nor the reference.
    """
    doc: dict[str, Any] = json.loads(night.read_text(encoding="utf-8"))
    doc[GATE_KEY] = {"exit": exit_code, "baseline": baseline, "outcome": outcome, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-store-") as tmp:
        tree = Path(tmp) / "store"
        checkout(remote, branch, tree)
        folder = tree / machine_id(doc.get("machine_info") or {})
        taken = [int(STORAGE_FILE.match(p.name).group(1)) for p in nights(folder)] if folder.is_dir() else []
        commit = str((doc.get("commit_info") or {}).get("id") or "unknown")[:12]
        stamp = "".join(c for c in str(doc.get("datetime") or "") if c.isalnum())[:15] or "undated"
        path = folder / f"{max(taken, default=0) + 1:04d}_{commit}_{stamp}.json"
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        _push(tree, branch, f"{path.relative_to(tree)}: exit {exit_code}, {outcome}")
        return str(path.relative_to(tree))


def put_dir(remote: str, branch: str, source: Path, dest: str) -> None:
    """Replace ``dest`` on the branch with a copy of ``source`` (asv's results, for example)."""
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-store-") as tmp:
        tree = Path(tmp) / "store"
        checkout(remote, branch, tree)
        if (tree / dest).exists():
            shutil.rmtree(tree / dest)
        shutil.copytree(source, tree / dest)
        if _git(tree, "status", "--porcelain").stdout.strip():
            _push(tree, branch, f"{dest}: updated")


def get_dir(remote: str, branch: str, source: str, dest: Path) -> bool:
    """Copy ``source`` from the branch to ``dest``; False when the store has none yet."""
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-store-") as tmp:
        tree = Path(tmp) / "store"
        if not checkout(remote, branch, tree) or not (tree / source).is_dir():
            return False
        shutil.copytree(tree / source, dest, dirs_exist_ok=True)
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbfgs_impl.tracking.store", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("fetch", "append", "put-dir", "get-dir"):
        p = sub.add_parser(name)
        p.add_argument("remote", help="a git URL or path the store lives at")
        p.add_argument("--branch", default=BRANCH, help=f"default: {BRANCH}")
    sub.choices["fetch"].add_argument("into", type=Path)
    sub.choices["append"].add_argument("night", type=Path)
    sub.choices["append"].add_argument("--exit", type=int, required=True, dest="exit_code")
    sub.choices["append"].add_argument("--baseline", choices=("yes", "no"), required=True)
    sub.choices["append"].add_argument("--outcome", required=True)
    sub.choices["append"].add_argument("--seed", action="store_true", help="the night starts the series anew")
    for name in ("put-dir", "get-dir"):
        sub.choices[name].add_argument("source")
        sub.choices[name].add_argument("dest")
    args = parser.parse_args(argv)
    try:
        if args.action == "fetch":
            print(fetch(args.remote, args.branch, args.into))
        elif args.action == "append":
            print(append(args.remote, args.branch, args.night, exit_code=args.exit_code,
                         baseline=args.baseline == "yes", outcome=args.outcome, seed=args.seed))  # fmt: skip
        elif args.action == "put-dir":
            put_dir(args.remote, args.branch, Path(args.source), args.dest)
        else:
            found = get_dir(args.remote, args.branch, args.source, Path(args.dest))
            print("restored" if found else "none stored yet")
    except (StoreError, OSError, json.JSONDecodeError) as exc:
        print(f"results store: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
