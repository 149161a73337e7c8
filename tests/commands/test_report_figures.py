"""What the report's figures and headline say on known inputs: solver colours, marks on solves that did not
converge, one measurement per column, one basis per speedup curve, which start, whose path. No timings."""

from __future__ import annotations

from typing import Any

import pytest

import lbfgs_impl.plots.report as plots
from lbfgs_impl.commands.report.data import ReportData, StageResult
from lbfgs_impl.commands.report.document import render


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report's plotting functions draw, kept open instead of written."""
    figures: list[Any] = []

    def keep(fig, path, **kwargs):
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save", keep)
    return figures


def _report() -> ReportData:
    versions = {k: "x" for k in ("jax", "jaxlib", "optax", "scipy", "numpy")}
    meta = {"versions": versions, "python": "3", "cpu": "c", "cpu_count": 2, "pinning": {"pinned": False},
            "thread_env": {}, "timestamp_utc": "t"}  # fmt: skip
    return ReportData("tiny", meta)


def _labelled_lines(fig) -> dict[str, Any]:
    lines = [line for ax in fig.axes for line in ax.lines]
    return {line.get_label(): line for line in lines if not line.get_label().startswith("_")}


# --------------------------------------------------------------------------- the reconstructed trace

TRACE = {"loss": [3.0, 1.0], "grad": [2.0, 1e-6], "time_s": [0.001, 0.002]}


def test_the_reconstructed_convergence_trace_is_labelled_so(drawn, tmp_path):
    traces = {"optax_loop": TRACE, "optax_while": {**TRACE, "reconstructed_from": "optax_loop"}}
    plots.convergence(traces, tmp_path / "c.png")
    labels = list(_labelled_lines(drawn[0]))
    assert "optax_loop" in labels
    (while_label,) = [x for x in labels if x.startswith("optax_while")]
    assert "optax_loop's path (reconstructed)" in while_label
    assert "reconstructed" in drawn[0]._suptitle.get_text()
    report = _report()
    report.stages["convergence"] = StageResult("convergence", {"optax_loop": TRACE, "optax_while": TRACE})
    text = render(report)  # a report.json written before the field: optax_while's trace is still named so
    assert "Observed: optax_loop," in text and "Reconstructed, not observed: optax_while" in text
