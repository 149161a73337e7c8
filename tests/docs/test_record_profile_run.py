"""scripts/record_profile_run.py: every field of the record is read from the run, never assumed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TIME_TXT = """\tCommand being timed: "/v/bin/lbfgs-bench profile --instructions --scheduler {sched} {out}"
\tUser time (seconds): 100.50
\tSystem time (seconds): 20.25
\tElapsed (wall clock) time (h:mm:ss or m:ss): 2:03.50
"""


def _recorder():
    spec = importlib.util.spec_from_file_location(
        "record_profile_run", ROOT / "scripts" / "record_profile_run.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path: Path, instructions: dict, sched: str, out_word: str | None = None) -> dict:
    out, run = tmp_path / "out", tmp_path / "run"
    out.mkdir()
    run.mkdir()
    doc = {"meta": {"cpu": "Test CPU", "instructions": instructions}, "problems": ["p1", "p2"],
           "solvers": ["scipy"], "runs": [{"instructions": 1.0}, {"instructions": None}]}  # fmt: skip
    (out / "results.json").write_text(json.dumps(doc))
    (run / "time.txt").write_text(TIME_TXT.format(sched=sched, out=out_word or out))
    for name, text in (("load_before", "1.0 2.0 3.0 1/2 3"), ("load_after", "4 5 6 1/2 3")):
        (run / name).write_text(text)
    (run / "started").write_text("S\n")
    (run / "ended").write_text("E\n")
    return _recorder().record(out, run)


def test_a_local_run_records_its_command_workers_and_times(tmp_path):
    inst = {"worker_cpus": [0, 1], "scheduler": "none: the built-in pool", "tasks": 2, "phase_s": 9.0}
    rec = _run(tmp_path, inst, "none")
    assert rec["command"] == "lbfgs-bench profile --instructions --scheduler none OUTDIR"
    assert rec["workers"] == 2 and rec["scheduler"] == "none: the built-in pool"
    assert rec["wall_s"] == pytest.approx(123.5) and rec["cpu_s"] == pytest.approx(120.75)
    assert rec["tasks_counted"] == 1


def test_a_cluster_run_counts_the_workers_that_counted_not_the_letters_of_a_sentence(tmp_path):
    # on a scheduler's cluster worker_cpus is a sentence; the workers are those that took samples
    machines = {"k1": [{"host": "h1", "worker": "tcp://h1:1"}], "k2": [{"host": "h2", "worker": "tcp://h2:1"}],
                "k3": [{"host": "h1", "worker": "tcp://h1:1"}]}  # fmt: skip
    inst = {"worker_cpus": "one per worker, claimed on the worker's machine", "scheduler": "tcp://s:8786",
            "task_machines": machines, "tasks": 3, "phase_s": 9.0}  # fmt: skip
    assert _run(tmp_path, inst, "tcp://s:8786")["workers"] == 2


def test_no_worker_known_is_recorded_as_unknown(tmp_path):
    inst = {"worker_cpus": "one per worker, claimed on the worker's machine", "tasks": 1, "phase_s": 1.0}
    assert _run(tmp_path, inst, "tcp://s:8786")["workers"] is None


def test_the_output_folder_is_replaced_however_it_was_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = _run(tmp_path, {"worker_cpus": [0], "tasks": 1, "phase_s": 1.0}, "none", out_word="./out/")
    assert rec["command"].endswith("--scheduler none OUTDIR"), rec["command"]


def test_only_the_programs_path_is_shortened(tmp_path):
    # an option's value that ends in a bin folder's file is the command's, kept as it was
    rec = _run(tmp_path, {"worker_cpus": [0], "tasks": 1, "phase_s": 1.0}, "none --plugin-dir=x/bin/mine")
    assert rec["command"].startswith("lbfgs-bench profile")
    assert "--scheduler none --plugin-dir=x/bin/mine OUTDIR" in rec["command"], rec["command"]


@pytest.mark.parametrize(
    "instructions", [{}, {"tasks": 0, "phase_s": 1.0}, {"tasks": 3, "skipped": "valgrind is not installed"}]
)
def test_a_run_without_counted_tasks_is_refused(tmp_path, instructions):
    with pytest.raises(SystemExit, match="has no counted tasks"):
        _run(tmp_path, instructions, "none")
