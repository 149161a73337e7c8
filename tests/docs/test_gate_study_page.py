"""The gate study page: verdicts recomputed from the committed raw counts, and the command that
measures the study again read from the study's own settings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _generators_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "docs_pages"))


def _page():
    spec = importlib.util.spec_from_file_location(
        "docs_pages_gate_study", ROOT / "scripts/docs_pages/gate_study.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _study() -> dict:
    base = [100.0] * 12
    base[9:12] = [101.0] * 3  # A/A pair 1: its second window 1% above its first
    return {
        "settings": {"processes": 12, "detection_processes": 6, "levels": [0.01], "solvers": ["optax_while"]},
        "processes": 12,
        "detection_processes": 6,
        "meta": {"valgrind": "valgrind-3.19.0", "aslr_disabled": True, "engine": "native-aot:AVX2"},
        "spread": {"optax_while/rosenbrock-100": {"samples": base, "total_samples": base}},
        "slowed": {"optax_while:0.01": {"samples": [101.0] * 6}},
        "wall": {},
        "seconds_total": 1.0,
    }


def test_the_rates_come_from_the_raw_counts_and_the_command_from_the_settings(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "study.json").write_text(json.dumps({"study": _study(), "verdicts": {"stale": True}}))
    (tmp_path / "docs" / "figures").mkdir(parents=True)
    page = _page().generate(data, tmp_path / "docs")[0].read_text()
    assert "A/A: 1 of 2 pairs of unchanged runs alarmed on instructions" in page  # recomputed, not read
    assert "| +1% | optax_while |" in page
    assert (
        "python scripts/instructions_study.py --out .study/instructions --processes 12 "
        "--detection-processes 6 --levels 0.01 --solvers optax_while --skip-wall" in page
    )
    assert "Wall time was not measured in this study" in page


def test_levels_near_the_floor_are_shown_as_injected_and_the_command_gives_them_back_exactly(tmp_path):
    """A level of 0.5% once read "+0%" (and 2.5% "+2%"); ``:g`` printed 1/30 as 0.0333333, which parses
    to another level, so the study would not resume: the page's levels are the saved ones, digit for digit."""
    levels = [0.005, 0.025, 1 / 30]
    study = _study()
    study["settings"]["levels"] = levels
    study["slowed"] = {f"optax_while:{level}": {"samples": [101.0] * 6} for level in levels}
    data = tmp_path / "data"
    data.mkdir()
    (data / "study.json").write_text(json.dumps({"study": study}))
    (tmp_path / "docs" / "figures").mkdir(parents=True)
    page = _page().generate(data, tmp_path / "docs")[0].read_text()
    assert "| +0.5% | optax_while |" in page and "| +2.5% | optax_while |" in page
    assert "| +3.33333% | optax_while |" in page
    given = page.split("--levels ")[1].split()[0]
    assert [float(x) for x in given.split(",")] == levels  # what --levels parses


def test_the_command_gives_the_wall_rounds_the_study_was_timed_with():
    """Another number of rounds is another study: resuming it with the default is refused."""
    study = {**_study(), "wall": {"optax_while:0.0": [[1.0]]}, "wall_rounds": 4}
    command = _page()._how(study)[1]
    assert "--wall-rounds 4" in command and "--skip-wall" not in command


def test_the_page_names_what_counted_the_study_from_its_record(tmp_path):
    study = _study()
    study["meta"]["environment"] = {"os_image": "Test OS", "arch": "x86_64", "python": "3.11.7",
                                    "versions": {"jax": "9.9"}}  # fmt: skip
    study["settings"]["code"] = "abc+def"
    data = tmp_path / "data"
    data.mkdir()
    (data / "study.json").write_text(json.dumps({"study": study}))
    (tmp_path / "docs" / "figures").mkdir(parents=True)
    page = _page().generate(data, tmp_path / "docs")[0].read_text()
    assert (
        "Measured on Test OS, x86_64, valgrind-3.19.0, Python 3.11.7, jax 9.9, counting code `abc+def`"
        in page
    )
    assert "a truncated second solve of that fraction of the solve's iterations" in page
