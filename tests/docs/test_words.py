"""The product speaks of itself only: no words about how its text was written.

README, the docs, every command's ``--help`` and every docstring in ``lbfgs_impl`` are read for
references to working sessions, rounds, issue numbers, helpers, commit hashes or dates used as time
references, and "here" or "this machine" meaning the machine someone once measured on.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from lbfgs_impl.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]

PATTERNS = {
    "issue number": re.compile(r"\bissues? #?\d+", re.I),
    "a working round": re.compile(
        r"\bthis (round|session|stop|sitting)\b|\b(earlier|previous|next|last) (round|session)s?\b", re.I
    ),
    "a working session": re.compile(
        r"\b(this|that|earlier|previous|other|working|editing|each|every) sessions?\b|\bsessions'", re.I
    ),
    "a helper": re.compile(r"\bhelpers? (?:session|agent)s?\b|\bthe (?:docs|figures|gate) helper\b", re.I),
    "a machine called here": re.compile(
        r"\b(measured|ran|run|timed|counted|took|takes) here\b|\bhere,? (on|under) (a|an|this|the)\b"
        r"|\bthis (2-core|shared machine|box|laptop)\b|\b(slower|faster|longer|quieter) here\b"
        r"|\b\d+ (s|min|minutes|seconds) here\b|\bidle here\b",
        re.I,
    ),
    "a virtual machine": re.compile(r"\bVMs?\b"),
    "a date": re.compile(r"\b20[2-3]\d-[01]\d(-[0-3]\d)?\b"),
    # an action pinned by commit (``uses: owner/action@<sha>``) is a pin, not a time reference
    "a commit hash": re.compile(r"(?<![\w/.@-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![\w-])"),
}

#: generated results pages carry their data's own record (when it was measured, which commit): the
#: other patterns still apply to them
DATA_RECORDS = ("a date", "a commit hash")


def hits(text: str, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, pattern in PATTERNS.items():
        if name in skip:
            continue
        for m in pattern.finditer(text):
            line = text[: m.start()].count("\n") + 1
            found.append(f"line {line}: {name}: {m.group(0)!r}")
    return found


def docs_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in files if "_build" not in p.parts]


@pytest.mark.parametrize("path", docs_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_speak_of_the_product(path):
    generated = path.parent == ROOT / "docs" / "results"
    assert hits(path.read_text(), DATA_RECORDS if generated else ()) == []


def _help_texts() -> dict[str, str]:
    parser = build_parser()
    texts = {"lbfgs-bench --help": parser.format_help()}
    for action in parser._actions:
        for name, sub in (getattr(action, "choices", None) or {}).items():
            texts[f"lbfgs-bench {name} --help"] = sub.format_help()
    return texts


def test_cli_help_speaks_of_the_product():
    texts = _help_texts()
    assert len(texts) >= 6  # the program and each of its commands
    found = {name: hits(text) for name, text in texts.items()}
    assert {k: v for k, v in found.items() if v} == {}


def _docstrings(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((getattr(node, "name", "<module>"), doc))
    return out


def test_docstrings_speak_of_the_product():
    found = {}
    for path in sorted((ROOT / "lbfgs_impl").rglob("*.py")):
        for name, doc in _docstrings(path):
            if bad := hits(doc):
                found[f"{path.relative_to(ROOT)}:{name}"] = bad
    assert found == {}


@pytest.mark.parametrize(
    "text",
    [
        "as fixed in issue 16",
        "measured this round",
        "took 5 s here",
        "on this VM",
        "a 2-core AMD EPYC VM",
        "the code of commit 9965a5f",
        "on 2026-11-25",
        "earlier sessions",
    ],
)
def test_the_word_test_catches(text):
    assert hits(text), text


@pytest.mark.parametrize(
    "text",
    [
        "the seed case (rosenbrock n = 100)",
        "sha256 of the inputs",
        "a dead beef",
        "click here to read more",
        "exit code 1 on a regression",
        "float64 and 1e-5",
    ],
)
def test_the_word_test_lets_product_text_through(text):
    assert hits(text) == [], text


def test_helper_capture_is_silent():
    with contextlib.redirect_stdout(io.StringIO()) as out:
        _help_texts()
    assert out.getvalue() == ""
