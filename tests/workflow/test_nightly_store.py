"""scripts/nightly.sh against a results store in a local bare repository, on doctored perf files.

``python -m pytest perf`` is replaced by a shim that writes a doctored copy of a real perf file
(tests/data/quick-run.json) where the suite would write its JSON, so each night takes seconds;
everything else (the store, the gate, the verdicts, the issue titles) runs as in the workflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1].parent
sys.path.insert(0, str(ROOT / "tests" / "tracking"))
from test_history import night  # noqa: E402

DATA = ROOT / "tests" / "data" / "quick-run.json"
BIN = Path(sys.executable).parent

SHIM = """#!/usr/bin/env bash
# `python -m pytest ...` writes $FAKE_RUN where --benchmark-json says and exits $FAKE_RC; the rest is python.
if [ "$1" = -m ] && [ "$2" = pytest ]; then
    prev=
    for a in "$@"; do [ "$prev" = --benchmark-json ] && out=$a; prev=$a; done
    [ "${FAKE_RC:-0}" = 0 ] && cp "$FAKE_RUN" "$out"
    exit "${FAKE_RC:-0}"
fi
exec REAL "$@"
"""


@pytest.fixture
def store(tmp_path) -> Path:
    bare = tmp_path / "results.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    return bare


def run_night(tmp_path: Path, store: Path, doc: dict | None, rc: int = 0, **extra: str) -> dict:
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    (shims / "python").write_text(SHIM.replace("REAL", sys.executable))
    (shims / "python").chmod(0o755)
    fake = tmp_path / "fake-run.json"
    if doc is not None:
        fake.write_text(json.dumps(doc))
    out = tmp_path / "nightly"
    env = dict(os.environ, PATH=os.pathsep.join([str(shims), str(BIN), os.environ["PATH"]]))
    env.update(
        NIGHTLY_DIR=str(out), RESULTS_REMOTE=str(store), FAKE_RUN=str(fake), FAKE_RC=str(rc), CONFIRM="0"
    )
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "nightly.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    return {
        "rc": proc.returncode,
        "log": proc.stdout + proc.stderr,
        "title": (out / "issue-title.txt").read_text().strip(),
        "report": (out / "report.md").read_text(),
    }


def stored(store: Path) -> list[dict]:
    """The store's nights, in order, as the branch holds them."""
    names = subprocess.run(["git", "-C", str(store), "ls-tree", "-r", "--name-only", "benchmark-results"],
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    show = ["git", "-C", str(store), "show"]
    docs = []
    for name in sorted(names):
        text = subprocess.run(
            [*show, f"benchmark-results:{name}"], capture_output=True, text=True, check=True
        )
        docs.append({"path": name, **json.loads(text.stdout)})
    return docs


@pytest.mark.slow  # four nights of a few python processes each: about two minutes on two busy cores
def test_nights_are_kept_in_the_store_with_their_verdicts_and_a_creep_is_caught(tmp_path, store):
    run_doc = json.loads(DATA.read_text())
    first = run_night(tmp_path, store, night(run_doc, 0, 1.0))
    assert first["rc"] == 2, first["log"]  # never a green first night
    assert first["title"] == "Nightly benchmarks: no baseline (this night seeds the history)"
    # +0.45% a night: under the 0.5% floor against last night, caught against the reference by night 2
    verdicts = [run_night(tmp_path, store, night(run_doc, k, 1.0045**k)) for k in (1, 2, 3)]
    assert verdicts[0]["rc"] == 0, verdicts[0]["log"]
    assert verdicts[0]["title"] == "Nightly benchmarks: no regression"
    flagged = [v for v in verdicts if v["rc"] == 1]
    assert flagged and flagged[0]["title"] == "Nightly benchmarks: performance regression"
    nights = stored(store)
    assert [n["path"].split("/")[0] for n in nights] == ["Linux-CPython-3.11-64bit"] * 4
    assert [n["path"].split("/")[1][:4] for n in nights] == ["0001", "0002", "0003", "0004"]
    gates = [n["lbfgs_bench_gate"] for n in nights]
    assert gates[0] == {
        "exit": 2,
        "baseline": True,
        "outcome": "no baseline; seeded the history",
        "seed": True,
    }
    assert [g["exit"] for g in gates[1:]] == [v["rc"] for v in verdicts]
    assert [g["baseline"] for g in gates[1:]] == [v["rc"] == 0 for v in verdicts]
    assert all(n["machine_info"] == run_doc["machine_info"] for n in nights)  # machine and environment kept
    # RESEED=1: tonight is checked against itself only and becomes the baseline, loudly (exit 2)
    reseeded = run_night(tmp_path, store, night(run_doc, 9, 1.5), RESEED="1")
    assert reseeded["rc"] == 2 and "no baseline" in reseeded["title"], reseeded["log"]
    assert stored(store)[-1]["lbfgs_bench_gate"]["baseline"] is True
    assert run_night(tmp_path, store, night(run_doc, 10, 1.5))["rc"] == 0  # compared with the reseeded night


def test_a_failing_perf_suite_is_an_error_not_a_regression_and_no_report_is_stale(tmp_path, store):
    out = tmp_path / "nightly"
    out.mkdir()
    (out / "report.md").write_text("**No regressions.** 12 benchmark(s) compared.\n")
    result = run_night(tmp_path, store, None, rc=1)
    assert result["rc"] == 3, result["log"]
    assert result["title"] == "Nightly benchmarks: the perf suite failed, no verdict"
    assert (
        "No regressions" not in result["report"]
        and "the perf suite failed (pytest exit 1)" in result["report"]
    )


def test_an_unreachable_store_is_an_error(tmp_path):
    run_doc = json.loads(DATA.read_text())
    result = run_night(tmp_path, tmp_path / "no-such-store.git", night(run_doc, 0, 1.0))
    assert result["rc"] == 3 and result["title"] == "Nightly benchmarks: error, no verdict"
    assert "could not be read" in result["report"]
