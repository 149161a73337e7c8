"""docs/results/versions.md is generated from pyproject.toml and the recorded runs; the reference
page names every excluded release; a recorded lowest environment really sat on the floors."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "data" / "versions"
spec = importlib.util.spec_from_file_location(
    "docs_pages_versions", ROOT / "scripts" / "docs_pages" / "versions.py"
)
assert spec is not None and spec.loader is not None
versions = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = versions
spec.loader.exec_module(versions)

REQUIREMENTS = versions._requirements(ROOT / "pyproject.toml")


def test_the_committed_page_is_the_generated_one(tmp_path):
    (written,) = versions.generate(DATA, tmp_path)
    assert written == tmp_path / "results" / "versions.md"
    assert (ROOT / "docs" / "results" / "versions.md").read_text() == written.read_text()


def test_every_floor_is_on_the_page(tmp_path):
    text = versions.generate(DATA, tmp_path)[0].read_text()
    floors = versions.floors_by_python(REQUIREMENTS)
    assert {"jax", "jaxlib", "numpy", "scipy", "optax", "pytest"} <= set(floors)
    for name, by_python in floors.items():
        row = f"| {name} | " + " | ".join(by_python.get(p, "-") for p in versions.PYTHONS) + " |"
        assert row in text, row


def test_recorded_lowest_runs_sat_on_the_floors():
    runs = versions.load_runs(DATA)
    lowest = [r for r in runs if r["env"].startswith("lowest")]
    if not lowest:
        pytest.skip("no lowest environment recorded in docs/data/versions/")
    floors = versions.floors_by_python(REQUIREMENTS)
    for run in lowest:
        python = ".".join(run["python"].split(".")[:2])
        assert run["packages"].keys() == floors.keys()
        for name, version in run["packages"].items():
            assert version is not None and versions._same(version, floors[name][python]), (run["env"], name)
        assert run["tiny_tier"]["passed"] > 0


def test_junit_counts(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite tests="7" failures="1" errors="2" skipped="1"/>'
        '<testsuite tests="3" failures="0" errors="0" skipped="0"/></testsuites>'
    )
    assert versions.junit_counts(xml) == {"passed": 6, "failed": 1, "errors": 2, "skipped": 1}


def test_record_writes_this_interpreters_versions(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text('<testsuite tests="2" failures="0" errors="0" skipped="1"/>')
    path = versions.record("here", xml, tmp_path / "data")
    run = json.loads(path.read_text())
    assert run["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    import jax

    assert run["packages"]["jax"] == jax.__version__
    assert run["tiny_tier"] == {"passed": 1, "failed": 0, "errors": 0, "skipped": 1}


def test_reference_page_names_every_exclusion_and_the_envs():
    page = (ROOT / "docs" / "reference" / "versions.md").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    excluded = versions.exclusions(REQUIREMENTS)
    assert excluded  # optax 0.2.7 today
    for name, releases in excluded.items():
        for release in releases:
            assert f"{name} {release}" in page, (name, release)
    assert f"Python {project['requires-python']}" in page
    assert "tox -e lowest" in page and "results/versions" in page
