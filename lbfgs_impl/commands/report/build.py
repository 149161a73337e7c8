"""``lbfgs-bench report``'s driver: run the stages, then write the JSON, the figures and ``report.md``.

:func:`build_report` runs the stages of :mod:`lbfgs_impl.commands.report.stages`
(scaling, the floor, break-even with the persistent cache, batched solves,
convergence, robustness), each under a progress bar with its own ETA; a stage
that fails is recorded in the report with its error and the others go on.
Figures are drawn by :mod:`lbfgs_impl.plots.report`, the document by
:mod:`lbfgs_impl.commands.report.document`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.report import document
from lbfgs_impl.commands.report.data import ReportData, run_stage
from lbfgs_impl.commands.report.figures import write_all
from lbfgs_impl.commands.report.plans import ReportPlan
from lbfgs_impl.commands.report.runner import default_stages
from lbfgs_impl.measure.environment import collect_meta


def build_report(
    outdir: Path,
    plan: ReportPlan,
    *,
    pinning: dict[str, Any],
    progress: Callable[[str], None],
    stages: dict[str, Callable[[], Any]] | None = None,
) -> tuple[ReportData, list[Path]]:
    """Run every stage (or the given ``stages``), then write the JSON, the figures and ``report.md``.

    ``report.json`` is rewritten (atomically) as each stage finishes, so a crash
    in a later stage keeps every result measured before it.
    """
    from lbfgs_impl.outputs import write_json_atomic

    report = ReportData(plan.name, collect_meta(pinning))
    todo = stages if stages is not None else default_stages(plan, report, pinning, progress, outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, fn in todo.items():
        report.stages[name] = run_stage(name, fn, progress)
        write_json_atomic(outdir / "report.json", document.to_dict(report))
    written = write_all(report, outdir)
    shown = [p.name for p in written]
    if report.ok("explain"):  # explain's own figures, in its folder
        shown += [f"explain/{p.name}" for p in sorted((outdir / "explain").glob("*.png"))]
    written += document.write(report, outdir, shown)
    return report, written
