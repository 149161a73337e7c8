"""Which figure each stage of ``lbfgs-bench report`` gets (the drawing is in :mod:`lbfgs_impl.plots`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.report.batched import reconstructed_from
from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.stages import speedup_curves
from lbfgs_impl.plots import report as figures
from lbfgs_impl.plots.profiles import plot_profile


def write_all(report: ReportData, outdir: Path) -> list[Path]:
    """Every figure whose stage succeeded; returns the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    s = report.stages
    jobs: list[tuple[str, Callable[[], Path]]] = []
    if report.ok("scaling"):
        jobs.append(("scaling", lambda: figures.scaling_time(s["scaling"].data, outdir / "scaling_time.png")))
        jobs.append(
            ("scaling", lambda: figures.speedup(speedup_curves(s["scaling"].data), outdir / "speedup.png"))
        )
        if report.ok("floor"):
            jobs.append(
                ("floor", lambda: figures.floor(s["scaling"].data, s["floor"].data, outdir / "floor.png"))
            )
    if report.ok("break_even"):
        jobs.append(
            ("break_even", lambda: figures.break_even(s["break_even"].data, outdir / "break_even.png"))
        )
    if report.ok("batched"):
        jobs.append(("batched", lambda: figures.batched(s["batched"].data, outdir / "batched.png")))
    if report.ok("convergence"):
        traces = {
            k: {**t, "reconstructed_from": reconstructed_from(k, t)} for k, t in s["convergence"].data.items()
        }
        jobs.append(("convergence", lambda: figures.convergence(traces, outdir / "convergence.png")))
    if report.ok("robustness"):
        jobs.append(
            ("robustness", lambda: _robustness(s["robustness"].data, outdir / "robustness_profile.png"))
        )
    written = []
    for stage, job in jobs:
        try:
            written.append(job())
        except Exception as exc:  # recorded with its stage, whose tables are still written
            s[stage].figure_error = s[stage].figure_error or f"{type(exc).__name__}: {exc}"
    return written


def _robustness(doc: dict[str, Any], path: Path) -> Path:
    from lbfgs_impl.commands.profile.runner import ProfileRun, Run

    run = ProfileRun([Run(**r) for r in doc["runs"]], doc["problems"], doc["solvers"], doc["skipped_solvers"])
    label = "f+g evaluations up to the first success"
    plot_profile(run.costs("evaluations"), label, len(run.problems), path)
    return path
