"""Confirmation before alerting: re-run flagged benchmarks A/B from two git worktrees.

A time regression flagged by :func:`lbfgs_impl.tracking.regressions.compare_runs` is kept
only if it reproduces when the baseline commit (A) and the current commit (B)
are benchmarked side by side in one job, alternating A B A B, each from its own
``git worktree`` and pinned to one CPU: the median over rounds of the ratio
B/A must still exceed the threshold. Quality figures are exact for a given
commit and library versions, so they are not re-run.

Most regressions arrive with a dependency upgrade while the commit stays the
same (the nightly installs the newest jax/jaxlib/optax/scipy/numpy). When the
two files record different versions, side A runs in an environment that has
the baseline's versions of exactly the changed packages: a virtual environment
that sees this one's packages (a ``.pth`` file) with only those pinned
(``pip install pkg==version``: dependencies the shared packages already
satisfy are left alone, missing ones such as optax 0.2.4's chex are added).
The report then names the upgrade.

The ratio compares each run's *fastest* sample. Interference on a shared
machine only ever adds time, and here it comes in phases: the seed case's
steady median read ~6.5 ms or ~11 ms from one process to the next (pinned,
same code), while the fastest sample stayed at 6.2-6.6 ms in 7 of 8
processes. A real slowdown moves the fastest sample as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lbfgs_impl.measure.timing import median
from lbfgs_impl.tracking.regressions import BenchmarkRun, Comparison

#: Packages whose baseline version the A side gets back when the two runs differ.
PINNABLE = ("jax", "jaxlib", "optax", "scipy", "numpy")


class ConfirmationError(Exception):
    """The re-run could not be set up (not a git repository, unknown revision...)."""


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfirmationError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _fastest(path: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Fastest sample by benchmark, and the library versions the re-run recorded."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}, {}
    benchmarks = doc.get("benchmarks", [])
    versions = next(
        (b["extra_info"]["versions"] for b in benchmarks if "versions" in b.get("extra_info", {})), {}
    )
    return {b["fullname"]: b["stats"]["min"] for b in benchmarks}, versions


def changed_versions(baseline: BenchmarkRun, current: BenchmarkRun) -> dict[str, tuple[str, str | None]]:
    """Pinnable packages whose version differs: ``{name: (baseline version, current version)}``."""
    b, c = baseline.versions(), current.versions()
    return {k: (b[k], c.get(k)) for k in PINNABLE if b.get(k) and b.get(k) != c.get(k)}


def make_env_with(pins: dict[str, str], directory: Path, *, python: str = sys.executable) -> str:
    """A virtual environment that sees ``python``'s packages but has ``pins`` installed over them.

    Returns the new environment's interpreter. Raises :class:`ConfirmationError`
    when the environment or the pinned install fails (for example no index).
    """
    probe = subprocess.run(
        [
            python,
            "-c",
            "import json, sysconfig; p = sysconfig.get_paths(); "
            "print(json.dumps([p['purelib'], p['platlib']]))",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise ConfirmationError(f"cannot inspect {python}: {probe.stderr.strip()}")
    parent_paths = list(dict.fromkeys(json.loads(probe.stdout)))
    proc = subprocess.run([python, "-m", "venv", str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfirmationError(f"python -m venv failed: {proc.stderr.strip()}")
    env_python = str(directory / "bin" / "python")
    site = subprocess.run(
        [env_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Appended after the new environment's own site-packages: the pins win, everything else is shared.
    (Path(site) / "lbfgs_bench_parent_env.pth").write_text("\n".join(parent_paths) + "\n")
    specs = [f"{name}=={version}" for name, version in pins.items()]
    proc = subprocess.run(
        [env_python, "-m", "pip", "install", "--quiet", *specs], capture_output=True, text=True
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ConfirmationError(f"pip install {' '.join(specs)} failed: {last}")
    return env_python


def rerun_benchmarks(
    worktree: Path,
    node_ids: list[str],
    out: Path,
    *,
    cpu: str = "first",
    python: str = sys.executable,
) -> tuple[dict[str, float], dict[str, str]]:
    """Run ``node_ids`` of ``perf/`` from ``worktree``; fastest sample (s) by full name, and versions."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(worktree), env.get("PYTHONPATH")]))
    cmd = [python, "-m", "pytest", *node_ids, "-q", "-p", "no:cacheprovider", "--perf-size", "full"]
    cmd += ["--perf-cpu", cpu, f"--benchmark-json={out}"]
    subprocess.run(cmd, cwd=worktree, env=env, capture_output=True, text=True)
    return _fastest(out)


def confirm_time_regressions(
    cmp: Comparison,
    *,
    repo: str | Path,
    baseline_rev: str,
    current_rev: str,
    rounds: int = 3,
    cpu: str = "first",
    python: str = sys.executable,
    progress: Callable[[str], None] = lambda msg: None,
    recreate_versions: bool = True,
) -> None:
    """Re-run the flagged time regressions A/B; move those that do not reproduce to ``unconfirmed``.

    With ``recreate_versions`` (default) and different library versions in the
    two files, the baseline side runs with the baseline's versions of the
    changed packages (see the module docstring); ``cmp.confirm_notes`` says how
    each side ran.
    """
    if rounds < 1:
        raise ValueError(f"confirmation rounds must be >= 1, got {rounds}")
    flagged = [f for f in cmp.regressions if f.kind == "time"]
    for f in cmp.regressions:
        if f.kind == "instructions":
            f.confirmation = "instruction count (load-independent), not re-run"
        elif f.kind != "time":
            f.confirmation = "exact figure, not re-run"
    if not flagged:
        return
    repo = Path(_git(Path(repo), "rev-parse", "--show-toplevel"))
    revs = {"baseline": _git(repo, "rev-parse", "--verify", f"{baseline_rev}^{{commit}}")}
    revs["current"] = _git(repo, "rev-parse", "--verify", f"{current_rev}^{{commit}}")
    node_ids = sorted({f.benchmark for f in flagged})
    ratios: dict[str, list[float]] = {n: [] for n in node_ids}
    changed = changed_versions(cmp.baseline, cmp.current) if recreate_versions else {}
    same_commit = revs["baseline"] == revs["current"]
    pythons = {"baseline": python, "current": python}
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-confirm-") as tmp:
        trees = {label: Path(tmp) / label for label in revs}
        if changed:
            pins = {name: old for name, (old, _) in changed.items()}
            what = ", ".join(f"{k} {b} (current {c})" for k, (b, c) in changed.items())
            progress(f"confirm: building an environment with the baseline's {what}")
            try:
                pythons["baseline"] = make_env_with(pins, Path(tmp) / "baseline-env", python=python)
                cmp.confirm_notes.append(f"A/B re-run: the baseline side ran with the baseline's {what}.")
            except ConfirmationError as exc:
                cmp.confirm_notes.append(
                    f"A/B re-run: could not recreate the baseline's {what} ({exc}); both sides ran "
                    "with the current versions, so an upgrade's effect cannot reproduce."
                )
        if same_commit:
            cmp.confirm_notes.append(
                f"Both runs are of commit {revs['current'][:10]}: "
                + (
                    "what reproduces came with the upgrade of "
                    + ", ".join(f"{k} {b} -> {c}" for k, (b, c) in changed.items())
                    + "."
                    if changed
                    else "nothing in this repository changed."
                )
            )
        try:
            for label, rev in revs.items():
                _git(repo, "worktree", "add", "--detach", str(trees[label]), rev)
            seen: dict[str, dict[str, str]] = {}
            for r in range(rounds):
                fastest = {}
                for label in ("baseline", "current"):
                    progress(f"confirm round {r + 1}/{rounds}: {label} ({revs[label][:10]})")
                    out = Path(tmp) / f"{label}-{r}.json"
                    fastest[label], seen[label] = rerun_benchmarks(
                        trees[label], node_ids, out, cpu=cpu, python=pythons[label]
                    )
                for name in node_ids:
                    if name in fastest["baseline"] and name in fastest["current"]:
                        ratios[name].append(fastest["current"][name] / fastest["baseline"][name])
            if changed:
                ran = "; ".join(
                    f"{label}: " + ", ".join(f"{k} {seen.get(label, {}).get(k)}" for k in changed)
                    for label in ("baseline", "current")
                )
                cmp.confirm_notes.append(f"Versions the re-runs recorded: {ran}.")
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True
                )
    limit = 1.0 + cmp.thresholds.threshold
    kept = []
    for f in cmp.regressions:
        if f.kind != "time":
            kept.append(f)
            continue
        rs = ratios[f.benchmark]
        if not rs:
            f.confirmation = "could not be re-run in both worktrees; kept"
            kept.append(f)
            continue
        m = median(rs)
        each = ", ".join(f"{x:.2f}" for x in rs)
        detail = f"A/B re-run x{len(rs)}: fastest-sample ratio {m:.2f}x (median of {each})"
        if m > limit:
            f.confirmation = f"{detail}, confirmed"
            kept.append(f)
        else:
            f.confirmation = f"{detail}, not reproduced"
            cmp.unconfirmed.append(f)
    cmp.regressions = kept
