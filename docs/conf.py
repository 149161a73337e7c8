"""Sphinx configuration: the docs are MyST Markdown, built strictly (``sphinx-build -W``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

_PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())

project = "lbfgs-bench"
author = "the lbfgs-bench authors"
release = version = _PYPROJECT["project"]["version"]
copyright = "the lbfgs-bench authors; Apache-2.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "data", "**/_*.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "alabaster"
html_title = f"lbfgs-bench {release}"
