"""``lbfgs-bench report``: its report and figures, redrawn from a committed ``report.json``.

Data: ``docs/data/report/report.json``, written by ``lbfgs-bench report [--quick] OUTDIR``. The page
is the command's own ``report.md`` rendered again from that file with the current code (so its
tables and captions are what the code says of the data), and the figures are drawn by the command's
own figure code.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from _common import adopt_figures, command_page, load_json, machine, versions, write_text

PAGE = "report"
#: what its figures are drawn by, beside lbfgs_impl/plots (the page's text is compared byte for byte)
SOURCES = (
    "lbfgs_impl/commands/report/figures.py",
    "lbfgs_impl/commands/report/stages.py",
    "lbfgs_impl/commands/report/data.py",
    "lbfgs_impl/commands/explain/command.py",
    "lbfgs_impl/commands/profile/runner.py",
    "lbfgs_impl/measure/attribution.py",
    "lbfgs_impl/profiles.py",
)


def load(data_dir: Path):
    from lbfgs_impl.commands.report.data import ReportData, StageResult

    doc = load_json(data_dir / "report.json")
    stages = {name: StageResult(**stage) for name, stage in doc["stages"].items()}
    return ReportData(doc["plan"], doc["meta"], stages)


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    from lbfgs_impl.commands.report import document, figures

    report = load(data_dir)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        drawn = figures.write_all(report, Path(tmp))
        text = document.render(report)
        if report.ok("explain"):  # the explain section's figures, drawn by explain's own code
            from lbfgs_impl.commands.explain.command import write_all as write_explain

            with contextlib.redirect_stderr(io.StringIO()):
                write_explain(report.stages["explain"].data, Path(tmp) / "explain")
            drawn += sorted((Path(tmp) / "explain").glob("*.png"))
            # explain.md itself is not published with this page: named, not linked
            text = text.replace("[explain/explain.md](explain/explain.md)", "`explain/explain.md`")
            for path in (Path(tmp) / "explain").glob("*.png"):
                text = text.replace(f"](explain/{path.name})", f"]({path.name})")
        text, figures = adopt_figures(list(drawn), docs_dir, text, name=lambda path: f"{PAGE}_{path.name}")
        written += figures
    # the command's title becomes the page's; its sections stay where they are
    intro = (
        f"Measured with `lbfgs-bench report{' --quick' if report.plan == 'quick' else ''}` on "
        f"{machine(report.meta)}; {versions(report.meta)}. What each stage measures: "
        "[the report guide](../guide/report.md)."
    )
    heading = f"# Results: when does each solver win? ({report.plan} report)"
    text = command_page(PAGE, text, heading, intro, untitled_heading="# Results: when does each solver win?")
    page = write_text(docs_dir / "results" / f"{PAGE}.md", text)
    return [page, *written]
