"""Re-counting the baseline commit's instructions in tonight's environment.

Instruction counts are comparable only under the same valgrind version, tool flags,
architecture and OS/glibc image (:func:`lbfgs_impl.tracking.signals.environment_difference`).
When the hosted image moved, the baseline commit is checked out in a ``git worktree``
(the machinery of :mod:`lbfgs_impl.tracking.confirm`) and its steady benchmarks are
counted again here, with ``pytest perf --perf-instructions``; tonight's counts are then
compared with those.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from lbfgs_impl.tracking.confirm import ConfirmationError, output_tail, remove_worktrees, run_git
from lbfgs_impl.tracking.runs import BenchmarkRun, DataError, load_run, short_commit


def counted_benchmarks(run: BenchmarkRun) -> list[str]:
    """Full names of the benchmarks whose extra_info carries an instruction count (or asked for one)."""
    return [n for n, b in run.benchmarks.items() if "instructions" in (b.get("extra_info") or {})]


def recount_baseline(
    node_ids: list[str],
    *,
    repo: str | Path,
    baseline_rev: str,
    size: str = "full",
    cpu: str = "first",
    python: str = sys.executable,
    progress: Callable[[str], None] = lambda msg: None,
) -> BenchmarkRun:
    """``pytest perf NODE_IDS --perf-instructions`` from a worktree of ``baseline_rev``, as a run.

    Raises :class:`ConfirmationError` with the tail of the output when the re-count fails.
    """
    repo = Path(run_git(Path(repo), "rev-parse", "--show-toplevel"))
    rev = run_git(repo, "rev-parse", "--verify", f"{baseline_rev}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-recount-") as tmp_name:
        tree, out = Path(tmp_name) / "baseline", Path(tmp_name) / "recount.json"
        trees = {"baseline": tree}
        try:
            run_git(repo, "worktree", "add", "--detach", str(tree), rev)
            progress(f"re-counting the instructions of {len(node_ids)} benchmark(s) at {short_commit(rev)}")
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
            cmd = [python, "-m", "pytest", *node_ids, "-q", "-p", "no:cacheprovider", "--perf-size", size]
            cmd += ["--perf-cpu", cpu, "--perf-instructions", "--benchmark-min-rounds=1"]
            cmd += ["--benchmark-max-time=0", "--benchmark-warmup=off", f"--benchmark-json={out}"]
            proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = output_tail(proc.stdout + proc.stderr)
                label = short_commit(rev)
                raise ConfirmationError(f"re-count at {label} failed (exit {proc.returncode}): {tail}")
            try:
                run = load_run(out)
            except DataError as exc:
                label = short_commit(rev)
                raise ConfirmationError(f"re-count at {label} wrote no usable result: {exc}") from None
        finally:
            remove_worktrees(repo, trees)
    run.path = f"{short_commit(rev)} re-counted tonight"
    return run
