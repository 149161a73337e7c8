"""``lbfgs-bench profile``: success table and performance profiles, redrawn from a committed ``results.json``.

Data: ``docs/data/profile/results.json``, written by ``lbfgs-bench profile [--quick] OUTDIR``. The page
is the command's own ``profile.md`` rendered again from that file with the current code, and the
figures are drawn by the command's own figure code (one time profile per CPU model when the timed
rows come from several).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import adopt_figures, command_page, load_json, machine, versions, write_text

PAGE = "profile"
SOURCES = (
    "lbfgs_impl/commands/profile/document.py",
    "lbfgs_impl/commands/profile/runner.py",
    "lbfgs_impl/profiles.py",
)


def load(data_dir: Path):
    from lbfgs_impl.commands.profile.runner import ProfileRun, Run

    doc = load_json(data_dir / "results.json")
    runs = [Run(**r) for r in doc["runs"]]
    return ProfileRun(
        runs,
        doc["problems"],
        doc["solvers"],
        doc["skipped_solvers"],
        doc["meta"],
        doc.get("excluded_problems", {}),
    )


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    from lbfgs_impl.commands.profile.document import write_outputs

    run = load(data_dir)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        outputs = write_outputs(run, Path(tmp))
        text = (Path(tmp) / "profile.md").read_text()
        pngs = [p for p in outputs if p.suffix == ".png"]  # already named profile_*.png
        text, figures = adopt_figures(pngs, docs_dir, text)
        written += figures
    intro = (
        f"Measured with `lbfgs-bench profile` on {len(run.problems)} problems of the Moré-Garbow-Hillstrom "
        f"set, on {machine(run.meta)}; {versions(run.meta)}. The success rule and how costs are "
        "charged: [the profile guide](../guide/profile.md)."
    )
    text = command_page(PAGE, text, "# Results: robustness on the MGH set", intro)
    page = write_text(docs_dir / "results" / f"{PAGE}.md", text)
    return [page, *written]
