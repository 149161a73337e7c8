"""``lbfgs-bench report``: when does each solver win? Stages, figures and ``report.md``.

:func:`build_report` runs the stages of :mod:`lbfgs_impl.whenwins.stages`
(scaling, the floor, break-even with the persistent cache, batched solves,
convergence, robustness), each under a progress bar with its own ETA; a stage
that fails is recorded in the report with its error and the others go on.
Figures are written by :mod:`lbfgs_impl.whenwins.figures`, the document by
:mod:`lbfgs_impl.whenwins.document`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbfgs_impl.cases import BenchCase


@dataclass(frozen=True)
class ReportPlan:
    """What each stage measures. :data:`QUICK` and :data:`FULL` are the two the command offers."""

    name: str
    scaling: tuple[BenchCase, ...]
    steady_repeats: int
    floor_sizes: tuple[int, ...]
    break_even: tuple[BenchCase, ...]
    batch_sizes: tuple[int, ...]
    batch_repeats: int
    robustness_problems: tuple[str, ...]
    robustness_solvers: tuple[str, ...] | None  # None: every available solver


def _rosenbrock(n: int) -> BenchCase:
    # Rosenbrock needs ~5n iterations: beyond n=1000, a fixed budget of 1000 (labelled so).
    return (
        BenchCase("rosenbrock", n, 1000, fixed_budget=True)
        if n > 1000
        else BenchCase("rosenbrock", n, 10_000)
    )


QUICK = ReportPlan(
    name="quick",
    scaling=(
        *(_rosenbrock(n) for n in (10, 100, 1000)),
        *(BenchCase("logistic", n) for n in (10, 100, 1000)),
    ),
    steady_repeats=3,
    floor_sizes=(10, 100, 1000),
    break_even=(BenchCase("rosenbrock", 100),),
    batch_sizes=(1, 16, 64),
    batch_repeats=2,
    robustness_problems=("mgh_rosenbrock", "mgh_beale", "mgh_freudenstein_roth", "mgh_wood", "mgh_penalty_1"),
    robustness_solvers=("scipy", "optax_loop", "optax_while"),
)

FULL = ReportPlan(
    name="full",
    scaling=(
        *(_rosenbrock(n) for n in (10, 100, 1000, 10_000, 100_000)),
        *(BenchCase("logistic", n) for n in (10, 100, 1000, 10_000, 100_000)),
    ),
    steady_repeats=5,
    floor_sizes=(10, 100, 1000, 10_000, 100_000),
    break_even=(
        BenchCase("rosenbrock", 100),
        BenchCase("rosenbrock", 1000, 10_000),
        BenchCase("logistic", 10_000),
    ),
    batch_sizes=(1, 4, 16, 64, 256),
    batch_repeats=3,
    robustness_problems=(),  # () = the quick MGH subset of `lbfgs-bench profile --quick`
    robustness_solvers=None,
)

#: For the tests: every stage and figure, on sizes that take seconds.
TINY = ReportPlan(
    name="tiny",
    scaling=(
        BenchCase("rosenbrock", 10, 10_000),
        BenchCase("rosenbrock", 30, 10_000),
        BenchCase("logistic", 10),
    ),
    steady_repeats=1,
    floor_sizes=(10,),
    break_even=(BenchCase("rosenbrock", 10, 10_000),),
    batch_sizes=(1, 4),
    batch_repeats=1,
    robustness_problems=("mgh_rosenbrock", "mgh_beale"),
    robustness_solvers=("scipy", "optax_while"),
)

PLANS = {"quick": QUICK, "full": FULL, "tiny": TINY}


@dataclass
class StageResult:
    name: str
    data: Any = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class ReportData:
    plan: str
    meta: dict[str, Any]
    stages: dict[str, StageResult] = field(default_factory=dict)

    def ok(self, name: str) -> bool:
        stage = self.stages.get(name)
        return stage is not None and not stage.error and stage.data is not None


def run_stage(name: str, fn: Callable[[], Any], progress: Callable[[str], None]) -> StageResult:
    t0 = time.monotonic()
    try:
        data = fn()
        return StageResult(name, data, "", time.monotonic() - t0)
    except Exception as exc:  # a failed stage is recorded, the report goes on
        progress(f"stage {name} failed: {type(exc).__name__}: {exc}")
        detail = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return StageResult(name, None, f"{type(exc).__name__}: {exc} ({detail})", time.monotonic() - t0)


def build_report(
    outdir: Path,
    plan: ReportPlan,
    *,
    pinning: dict[str, Any],
    progress: Callable[[str], None],
    stages: dict[str, Callable[[], Any]] | None = None,
) -> tuple[ReportData, list[Path]]:
    """Run every stage (or the given ``stages``), then write the JSON, the figures and ``report.md``."""
    from lbfgs_impl.environment import collect_meta
    from lbfgs_impl.whenwins import document, figures
    from lbfgs_impl.whenwins.runner import default_stages

    report = ReportData(plan.name, collect_meta(pinning))
    todo = stages if stages is not None else default_stages(plan, report, pinning, progress)
    for name, fn in todo.items():
        report.stages[name] = run_stage(name, fn, progress)
    written = figures.write_all(report, outdir)
    written += document.write(report, outdir, [p.name for p in written])
    return report, written
