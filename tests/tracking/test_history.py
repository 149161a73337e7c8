"""The gate on the series (``check-regressions --history``), on doctored copies of a real perf file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gate_trust import SLOWED, bench, check, clean, counted

from lbfgs_impl.cli import main
from lbfgs_impl.tracking.history import machine_id
from lbfgs_impl.tracking.runs import GATE_KEY

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"


@pytest.fixture
def run_doc() -> dict:
    return json.loads(DATA.read_text())


def night(run_doc: dict, k: int, factor: float, spread: float = 0.001) -> dict:
    """Night ``k``: counts of SLOWED scaled by ``factor``, commit ``k`` (its own clean commit)."""
    doc = clean(counted(run_doc, spread=spread), commit=f"{k:x}" * 40)
    bench(doc, SLOWED)["extra_info"]["instructions"] *= factor
    return doc


def store(folder: Path, number: int, doc: dict, rc: int | None = None) -> Path:
    """A night as the results store keeps it: NNNN_*.json, with the nightly's verdict when given."""
    folder.mkdir(parents=True, exist_ok=True)
    if rc is not None:
        doc = {**doc, GATE_KEY: {"exit": rc, "baseline": rc == 0}}
    path = folder / f"{number:04d}_{doc['commit_info']['id'][:8]}_night.json"
    path.write_text(json.dumps(doc))
    return path


def history_check(history: Path, tonight: dict, tmp_path: Path, *extra: str) -> int:
    current = tmp_path / "tonight.json"
    current.write_text(json.dumps(tonight))
    return main(["check-regressions", "--history", str(history), str(current), *extra])


def test_a_storage_folder_in_a_machine_id_subfolder_is_read(tmp_path, capsys, run_doc):
    folder = tmp_path / "storage" / machine_id(run_doc["machine_info"])
    assert folder.name == "Linux-CPython-3.11-64bit"  # as pytest-benchmark names it
    store(folder, 1, night(run_doc, 1, 1.0))
    store(folder, 2, night(run_doc, 2, 1.0))
    assert main(["check-regressions", "--history", str(tmp_path / "storage")]) == 0
    out = capsys.readouterr().out
    assert (
        "- baseline: `" in out and "0001_11111111_night.json`" in out and "0002_22222222_night.json`" in out
    )
    assert "## Series: tonight against the reference" in out


@pytest.mark.parametrize("rate", [1.0045, 1.003])
def test_a_creep_under_the_limit_every_night_is_flagged_by_the_third_night(tmp_path, capsys, run_doc, rate):
    folder = tmp_path / "storage"
    nights = [night(run_doc, k, rate**k) for k in range(4)]
    # the hole: against last night alone, each step is under the 0.5% floor
    assert [check(tmp_path, nights[k - 1], nights[k]) for k in (1, 2, 3)] == [0, 0, 0]
    capsys.readouterr()
    store(folder, 0, nights[0], rc=0)
    verdicts = []
    for k in (1, 2, 3):
        rc = history_check(folder, nights[k], tmp_path)
        verdicts.append(rc)
        store(folder, k, nights[k], rc=rc)  # the nightly keeps every night, with its verdict
        if rc == 1:
            out = capsys.readouterr().out
            assert f"`{SLOWED}` | instructions" in out and "against the reference (`0000_" in out
            break
    assert verdicts[0] == 0 and verdicts[-1] == 1, verdicts


def test_a_flat_night_after_one_small_step_is_not_flagged(tmp_path, run_doc):
    folder = tmp_path / "storage"
    store(folder, 0, night(run_doc, 0, 1.0), rc=0)
    store(folder, 1, night(run_doc, 1, 1.004), rc=0)
    assert history_check(folder, night(run_doc, 2, 1.004), tmp_path) == 0


def test_a_noisy_night_is_never_the_reference(tmp_path, capsys, run_doc):
    folder = tmp_path / "storage"
    quiet, noisy, tonight = (
        night(run_doc, 0, 1.0),
        night(run_doc, 1, 1.0, spread=0.019),
        night(run_doc, 2, 1.04),
    )
    assert check(tmp_path, noisy, tonight) == 0  # the hole: the noisy night's spread widened the limit to 5%
    capsys.readouterr()
    store(folder, 0, quiet, rc=0)
    store(folder, 1, noisy, rc=0)
    assert history_check(folder, tonight, tmp_path) == 1
    out = capsys.readouterr().out
    assert f"`{SLOWED}` | instructions vs reference |" in out and "against the reference (`0000_" in out


def test_no_usable_night_is_a_loud_no_baseline(tmp_path, capsys, run_doc):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert history_check(empty, night(run_doc, 1, 1.0), tmp_path, "--report", str(tmp_path / "r.md")) == 2
    assert "no baseline" in capsys.readouterr().err and "no baseline" in (tmp_path / "r.md").read_text()
    folder = tmp_path / "storage"
    store(folder, 0, night(run_doc, 0, 1.0), rc=1)  # a night that regressed never serves as a baseline
    assert history_check(folder, night(run_doc, 1, 1.0), tmp_path) == 2
    assert "none accepted as a baseline" in capsys.readouterr().err


def test_with_several_machine_folders_tonights_is_read(tmp_path, capsys, run_doc):
    root = tmp_path / "storage"
    store(root / "Linux-CPython-3.12-64bit", 1, night(run_doc, 9, 1.5))
    store(root / machine_id(run_doc["machine_info"]), 1, night(run_doc, 1, 1.0))
    assert history_check(root, night(run_doc, 2, 1.0), tmp_path) == 0
    assert "0001_11111111_night.json" in capsys.readouterr().out
    assert history_check(root / "Linux-CPython-3.12-64bit", night(run_doc, 2, 1.0), tmp_path) == 0  # improved


def test_step_detection_names_the_first_commit_of_a_step(tmp_path, capsys, run_doc):
    folder = tmp_path / "storage"
    for k, factor in enumerate([1.0, 1.0005, 0.9995, 1.10, 1.1003]):
        store(folder, k, night(run_doc, k, factor))
    main(["check-regressions", "--history", str(folder)])
    out = capsys.readouterr().out
    section = out.split("## Steps in the count series (asv step detection)")[1].split("## ")[0]
    assert f"`{SLOWED}`: +10.0%" in section and "first at commit 3333333333" in section
    assert section.count("- `") == 1  # the unchanged benchmarks have no step


def test_history_takes_at_most_one_file(tmp_path, capsys, run_doc):
    assert main(["check-regressions", "--history", str(tmp_path), "a.json", "b.json"]) == 2
    assert main(["check-regressions", str(DATA)]) == 2
    assert "expected BASELINE CURRENT" in capsys.readouterr().err


def test_a_seed_starts_the_series_anew(tmp_path, run_doc):
    folder = tmp_path / "storage"
    store(folder, 0, night(run_doc, 0, 1.0), rc=0)
    store(folder, 1, night(run_doc, 1, 1.5), rc=0)
    assert history_check(folder, night(run_doc, 2, 1.5), tmp_path) == 1  # the old night is the reference
    reseeded = {**night(run_doc, 1, 1.5), GATE_KEY: {"exit": 2, "baseline": True, "seed": True}}
    (folder / "0001_11111111_night.json").write_text(json.dumps(reseeded))
    assert history_check(folder, night(run_doc, 2, 1.5), tmp_path) == 0  # nothing before the seed counts


def test_a_folder_written_by_pytest_benchmark_autosave_is_read(tmp_path, capsys):
    import subprocess
    import sys

    (tmp_path / "test_tiny.py").write_text("def test_sum(benchmark):\n    benchmark(sum, range(10))\n")
    cmd = [sys.executable, "-m", "pytest", "test_tiny.py", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    cmd += [
        "--benchmark-autosave",
        "--benchmark-storage",
        str(tmp_path / "storage"),
        "--benchmark-max-time=0.01",
    ]
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    (machine,) = (tmp_path / "storage").iterdir()  # pytest-benchmark's machine-id folder
    assert [p.name[:5] for p in sorted(machine.iterdir())] == ["0001_", "0002_"]
    # a plain pytest-benchmark run records no quality figures: read, compared on time, and not a pass
    assert main(["check-regressions", "--history", str(tmp_path / "storage")]) == 2
    out = capsys.readouterr().out
    assert f"{machine.name}/0001_" in out and f"{machine.name}/0002_" in out
    assert "| quality | not compared for 1 of 1 benchmark(s)" in out


def test_the_quiet_limit_is_stated_with_every_digit_and_a_night_just_above_it_has_no_reference(
    tmp_path, capsys, run_doc
):
    """0.5% / 3 printed to two decimals read "at most 0.17%", yet a night of spread 0.17% is not quiet."""
    folder = tmp_path / "storage"
    store(folder, 0, night(run_doc, 0, 1.0, spread=0.0017), rc=0)
    assert history_check(folder, night(run_doc, 1, 1.0, spread=0.0017), tmp_path) == 0
    out = capsys.readouterr().out
    assert "the quiet night (repeat spread at most 0.5% / 3 = 0.166667%)" in out
    assert "No quiet night in the window" in out and f"`{SLOWED}`" in out.split("No quiet night")[1]
