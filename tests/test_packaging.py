"""What a user expects of the package: one version, a licence file that matches, a consistent bare command."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import lbfgs_impl
from lbfgs_impl.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_comes_from_the_package_metadata(capsys):
    assert lbfgs_impl.__version__ == version("lbfgs-bench")
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"lbfgs-bench {version('lbfgs-bench')}"


def test_the_version_is_written_once():
    sources = [p for p in (ROOT / "lbfgs_impl").rglob("*.py") if '__version__ = "' in p.read_text()]
    assert sources == [], f"a second, hand-typed version in {sources}"


def test_bare_command_prints_the_help_and_exits_like_help(capsys):
    bare_code = main([])
    bare = capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    helped = capsys.readouterr()
    assert (bare_code, exc.value.code) == (0, 0)
    assert bare.out == helped.out and "usage: lbfgs-bench" in bare.out
    assert bare.err == helped.err == ""


def test_licence_file_matches_the_declared_licence():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_build_system_floor_supports_the_spdx_licence_string():
    (requirement,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    floor = tuple(int(x) for x in requirement.split(">=")[1].split("."))
    assert floor >= (77,), "an SPDX `license` string needs setuptools >= 77"


def _pinned(text: str, tool: str) -> list[str]:
    return [line for line in text.splitlines() if tool in line and ("install" in line or "==" in line)]


def test_linters_are_pinned_where_ci_runs_them():
    ci = (ROOT / ".ci" / "run").read_text()
    tox = (ROOT / "tox.ini").read_text()
    for tool in ("ruff", "zizmor"):
        pins = [
            r
            for extra in PYPROJECT["project"]["optional-dependencies"].values()
            for r in extra
            if r.startswith(tool)
        ]
        assert pins and all("==" in r for r in pins), (tool, pins)
    installs = [line for line in ci.splitlines() if "pip install" in line and "ruff" in line]
    assert installs and all("ruff==" in line for line in installs), installs
    lint = tox.split("[testenv:lint]", 1)[1].split("\n[", 1)[0]
    assert "deps = ruff==" in lint


def test_changelog_keeps_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog")
    assert "## [Unreleased]" in text and "keepachangelog.com" in text
