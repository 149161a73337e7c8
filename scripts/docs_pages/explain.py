"""``lbfgs-bench explain`` on the seed case, redrawn from a committed ``explain.json``.

Data: ``docs/data/explain/explain.json``, written by ``lbfgs-bench explain OUTDIR`` (with its
machine and versions, ``meta``). The page is the
command's own ``explain.md`` rendered again from that file with the current code, and the figures
are drawn by the command's own figure code.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from _common import adopt_figures, command_page, load_json, machine, versions, write_text

PAGE = "explain"
SOURCES = ("lbfgs_impl/commands/explain/command.py", "lbfgs_impl/measure/attribution.py")


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    from lbfgs_impl.commands.explain.command import write_all

    doc = load_json(data_dir / "explain.json")
    meta = doc["meta"]
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        if write_all(doc, Path(tmp)) != 0:
            raise RuntimeError("explain: the outputs could not be written")
        text = (Path(tmp) / "explain.md").read_text()
        text, figures = adopt_figures(list(Path(tmp).glob("*.png")), docs_dir, text)  # named explain_*.png
        written += figures
    intro = (
        f"Measured with `lbfgs-bench explain` on {doc['problem']} n = {doc['n']}, on {machine(meta)}; "
        f"{versions(meta)}; {doc['callgrind'].get('meta', {}).get('valgrind', 'no valgrind')}. "
        "What each part means: [the explain guide](../guide/explain.md)."
    )
    text = command_page(PAGE, text, "# Results: where an iteration goes", intro)
    page = write_text(docs_dir / "results" / f"{PAGE}.md", text)
    return [page, *written]
