"""Confirmation before alerting: re-run flagged benchmarks A/B from two git worktrees.

A time regression flagged by :func:`lbfgs_impl.tracking.regressions.compare_runs` is kept
only if it reproduces when the baseline commit (A) and the current commit (B)
are benchmarked side by side in one job, alternating A B A B, each from its own
``git worktree`` and pinned to one CPU: the median over rounds of the ratio
B/A must still exceed the threshold. Quality figures are exact for a given
commit and library versions, so they are not re-run.

Each round also runs the baseline a second time (A B A'): the A'/A ratios are the
noise of this very confirmation. A **time-only** finding (its instruction count was
compared and did not move, :attr:`~lbfgs_impl.tracking.runs.Finding.time_only`) is
confirmed only when it is decisive: *every* round's B/A beyond the threshold and beyond
the largest A'/A deviation. Other time findings need the median of the rounds' B/A
beyond both. When A and B are the same commit with the same library versions, the two
sides run identical code: nothing is confirmed. When what changed cannot be recreated on
side A (another Python, or the baseline's library versions fail to install), a re-run
cannot clear a finding: the time findings are kept, not re-run.

Most regressions arrive with a dependency upgrade while the commit stays the
same (the nightly installs the newest jax/jaxlib/optax/scipy/numpy). When the
two files record different versions, side A runs in an environment that has
the baseline's versions of exactly the changed packages: a virtual environment
that sees this one's packages (a ``.pth`` file) with only those pinned
(``pip install pkg==version``: dependencies the shared packages already
satisfy are left alone, missing ones such as optax 0.2.4's chex are added).
The report then names the upgrade.

The ratio compares each run's *fastest* sample. Interference on a shared
machine only ever adds time, and it can come in phases: the same code's
steady median can move from one process to the next while its fastest
sample stays put. A real slowdown moves the fastest sample as well.
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
from lbfgs_impl.tracking.runs import BenchmarkRun, Comparison, Finding, short_commit

#: Packages whose baseline version the A side gets back when the two runs differ.
PINNABLE = ("jax", "jaxlib", "optax", "scipy", "numpy")


class ConfirmationError(Exception):
    """The re-run could not be set up (not a git repository, unknown revision...)."""


def run_git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfirmationError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def output_tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


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


def _pip(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True)


def environment_notes(env_python: str, python: str = sys.executable) -> list[str]:
    """What the confirmation environment differs in from this one (``pip freeze``) and ``pip check``."""
    freeze = {}
    for label, exe in (("current", python), ("baseline side", env_python)):
        proc = _pip(exe, "freeze", "--all")
        freeze[label] = set(proc.stdout.split()) if proc.returncode == 0 else set()
    only_env = sorted(freeze["baseline side"] - freeze["current"])
    only_cur = sorted(freeze["current"] - freeze["baseline side"])
    diff = ", ".join(only_env) or "nothing"
    notes = [f"pip freeze of the baseline side's environment differs from this one's: it has {diff}"]
    if only_cur:
        notes[0] += f" (instead of {', '.join(only_cur)})"
    check = _pip(env_python, "check")
    verdict = "no broken requirements" if check.returncode == 0 else output_tail(check.stdout + check.stderr)
    notes.append(f"pip check in that environment: {verdict}.")
    return notes


def rerun_benchmarks(
    worktree: Path,
    node_ids: list[str],
    out: Path,
    *,
    cpu: str = "first",
    python: str = sys.executable,
    size: str = "full",
) -> tuple[dict[str, float], dict[str, str], str | None]:
    """Run ``node_ids`` of ``perf/`` from ``worktree`` (``--perf-size size``: the grid they belong to).

    Returns the fastest sample (s) by full name, the versions recorded, and the
    tail of the run's stderr/stdout when it failed (``None`` when it passed).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(worktree), env.get("PYTHONPATH")]))
    cmd = [python, "-m", "pytest", *node_ids, "-q", "-p", "no:cacheprovider", "--perf-size", size]
    cmd += ["--perf-cpu", cpu, f"--benchmark-json={out}"]
    proc = subprocess.run(cmd, cwd=worktree, env=env, capture_output=True, text=True)
    fastest, versions = _fastest(out)
    failed = None
    if proc.returncode != 0:
        failed = f"exit {proc.returncode}: {output_tail(proc.stderr or proc.stdout)}"
    return fastest, versions, failed


def _worktrees(repo: Path, revs: dict[str, str], trees: dict[str, Path]) -> None:
    for label, rev in revs.items():
        run_git(repo, "worktree", "add", "--detach", str(trees[label]), rev)


def remove_worktrees(repo: Path, trees: dict[str, Path]) -> None:
    for tree in trees.values():
        cmd = ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)]
        subprocess.run(cmd, capture_output=True)


def _keep_unrun(cmp: Comparison, why: str) -> None:
    """A re-run that cannot recreate what changed cannot clear a finding: keep every time finding."""
    cmp.confirm_notes.append(f"A/B re-run: {why}; the time findings are kept (not re-run).")
    for f in cmp.regressions:
        if f.kind == "time":
            f.confirmation = f"not re-run: {why}; kept"


def _baseline_python(cmp: Comparison, changed: dict, tmp: Path, python: str, progress) -> str | None:
    """Side A's interpreter, with the baseline's versions of the changed packages; None if they fail."""
    if not changed:
        return python
    pins = {name: old for name, (old, _) in changed.items()}
    what = ", ".join(f"{k} {b} (current {c})" for k, (b, c) in changed.items())
    progress(f"confirm: building an environment with the baseline's {what}")
    try:
        env_python = make_env_with(pins, tmp / "baseline-env", python=python)
    except ConfirmationError as exc:
        _keep_unrun(cmp, f"could not recreate the baseline's {what} ({exc})")
        return None
    cmp.confirm_notes.append(f"A/B re-run: the baseline side ran with the baseline's {what}.")
    cmp.confirm_notes.extend(environment_notes(env_python, python))
    return env_python


def _same_commit_note(revs: dict[str, str], changed: dict) -> str:
    """Same commit, different library versions (identical versions never get this far)."""
    upgrade = ", ".join(f"{k} {b} -> {c}" for k, (b, c) in changed.items())
    commit = short_commit(revs["current"])
    return f"Both runs are of commit {commit}: what reproduces came with the upgrade of {upgrade}."


def _rounds(cmp, trees, revs, pythons, node_ids, rounds, cpu, tmp, progress, size):
    """Run A B A' ``rounds`` times: B/A and A'/A ratios by benchmark, versions seen, failures."""
    ab: dict[str, list[float]] = {n: [] for n in node_ids}
    aa: dict[str, list[float]] = {n: [] for n in node_ids}
    seen: dict[str, dict[str, str]] = {}
    order = (("baseline", "baseline"), ("current", "current"), ("baseline-again", "baseline"))
    for r in range(rounds):
        fastest: dict[str, dict[str, float]] = {}
        for label, side in order:
            progress(f"confirm round {r + 1}/{rounds}: {label} ({short_commit(revs[side])})")
            out = tmp / f"{label}-{r}.json"
            fastest[label], seen[side], failed = rerun_benchmarks(
                trees[side], node_ids, out, cpu=cpu, python=pythons[side], size=size
            )
            if failed:
                cmp.confirm_notes.append(f"A/B re-run round {r + 1}, {label} side failed ({failed}).")
        for name in node_ids:
            a, b, a2 = (fastest[k].get(name) for k, _ in order)
            if a and b:
                ab[name].append(b / a)
            if a and a2:
                aa[name].append(a2 / a)
    return ab, aa, seen


def _aa_spread(aa: list[float]) -> float:
    """The largest A'/A deviation of a confirmation, as a factor >= 1."""
    return max((max(x, 1 / x) for x in aa), default=1.0)


def ratio_text(x: float, bound: float) -> str:
    """``x`` with 2 decimals, or as many more as it takes to differ from ``bound`` (else ``repr``).

    A verdict "1.50x > 1.50x: confirmed" would not follow from what the reader sees: a ratio
    just above the bound is printed until it shows above it (1.5004 -> "1.5004").
    """
    for digits in range(2, 13):
        if x == bound or round(x, digits) != round(bound, digits):
            return f"{x:.{digits}f}"
    return repr(x)


def _detail(ab: list[float], aa: list[float], bound: float) -> str:
    if not ab:
        return "A/B re-run: no ratio"
    each = ", ".join(ratio_text(x, bound) for x in ab)
    m = median(ab)
    # The spread, when it is the bound, is printed with the digits that tell it from the ratio too.
    return (
        f"A/B re-run x{len(ab)}: fastest-sample ratio {ratio_text(m, bound)}x (rounds {each}); "
        f"A/A spread {ratio_text(_aa_spread(aa), m)}x"
    )


def _verdict(f: Finding, ab: list[float], aa: list[float], limit: float) -> bool:
    """Set ``f.confirmation``; True when the finding is confirmed."""
    aa_dev, m = _aa_spread(aa), median(ab)
    bound = max(limit, aa_dev)
    detail = _detail(ab, aa, bound)
    if f.time_only:
        decisive = min(ab) > bound
        rule = f"every round > {limit:.2f}x and > the A/A spread (time only: instructions unchanged)"
        f.confirmation = f"{detail}; {rule}: {'decisive, confirmed' if decisive else 'not decisive'}"
        return decisive
    confirmed = m > bound
    rule = f"median > {limit:.2f}x and > the A/A spread"
    f.confirmation = f"{detail}; {rule}: {'confirmed' if confirmed else 'not reproduced'}"
    return confirmed


def _identical(cmp: Comparison, commit: str) -> None:
    """A and B would be the same commit with the same versions: a re-run can only measure noise."""
    cmp.confirm_notes.append(
        f"Both runs are of commit {short_commit(commit)} with the same library versions: an A/B re-run would "
        "compare identical code, so none was run and no time finding is confirmed."
    )
    for f in [f for f in cmp.regressions if f.kind == "time"]:
        cmp.regressions.remove(f)
        label = short_commit(commit)
        f.confirmation = f"not reproduced: identical code on both sides (commit {label}, same versions)"
        cmp.unconfirmed.append(f)


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
    size: str = "full",
) -> None:
    """Re-run the flagged time regressions A B A'; move those not confirmed to ``unconfirmed``.

    With ``recreate_versions`` (default) and different library versions in the
    two files, the baseline side runs with the baseline's versions of the
    changed packages (see the module docstring); ``cmp.confirm_notes`` says how
    each side ran, what its environment differs in (``pip freeze``), ``pip check``,
    and the tail of any re-run that failed.
    """
    # long function: the A/B/A' protocol, worktrees and venv set-up and teardown in one try/finally.
    if rounds < 1:
        raise ValueError(f"confirmation rounds must be >= 1, got {rounds}")
    flagged = [f for f in cmp.regressions if f.kind == "time"]
    for f in cmp.regressions:
        if f.kind == "instructions":
            f.confirmation = "instruction count (load-independent), not re-run"
        elif f.kind == "not run":
            f.confirmation = "nothing measured tonight to re-run"
        elif f.kind != "time":
            f.confirmation = "exact figure, not re-run"
    if not flagged:
        return
    repo = Path(run_git(Path(repo), "rev-parse", "--show-toplevel"))
    revs = {"baseline": run_git(repo, "rev-parse", "--verify", f"{baseline_rev}^{{commit}}")}
    revs["current"] = run_git(repo, "rev-parse", "--verify", f"{current_rev}^{{commit}}")
    node_ids = sorted({f.benchmark for f in flagged})
    time_base = cmp.time_baseline or cmp.baseline  # side A is the run wall time was compared with
    changed = changed_versions(time_base, cmp.current) if recreate_versions else {}
    bp, cp = time_base.machine_info.get("python_version"), cmp.current.machine_info.get("python_version")
    if bp != cp:
        _keep_unrun(cmp, f"the runs differ in python {bp} -> {cp}, which a re-run here cannot recreate")
        return
    if revs["baseline"] == revs["current"] and not changed:
        _identical(cmp, revs["current"])
        return
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-confirm-") as tmp_name:
        tmp = Path(tmp_name)
        side_a = _baseline_python(cmp, changed, tmp, python, progress)
        if side_a is None:
            return
        pythons = {"baseline": side_a, "current": python}
        if revs["baseline"] == revs["current"]:
            cmp.confirm_notes.append(_same_commit_note(revs, changed))
        trees = {label: tmp / label for label in revs}
        try:
            _worktrees(repo, revs, trees)
            ab, aa, seen = _rounds(cmp, trees, revs, pythons, node_ids, rounds, cpu, tmp, progress, size)
        finally:
            remove_worktrees(repo, trees)
    if changed:
        ran = "; ".join(
            f"{label}: " + ", ".join(f"{k} {seen.get(label, {}).get(k)}" for k in changed)
            for label in ("baseline", "current")
        )
        cmp.confirm_notes.append(f"Versions the re-runs recorded: {ran}.")
    limit = 1.0 + cmp.thresholds.threshold
    kept = []
    for f in cmp.regressions:
        if f.kind != "time":
            kept.append(f)
        elif not ab[f.benchmark]:
            f.confirmation = "could not be re-run in both worktrees; kept"
            kept.append(f)
        elif _verdict(f, ab[f.benchmark], aa[f.benchmark], limit):
            kept.append(f)
        else:
            cmp.unconfirmed.append(f)
    cmp.regressions = kept
