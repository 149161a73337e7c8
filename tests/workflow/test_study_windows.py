"""The instruction study's A/A pairs and detection windows share no process (independent pairs)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import instructions_study
import pytest


def test_a_a_pairs_are_disjoint_and_sixty_processes_give_ten():
    pairs = instructions_study.aa_pairs(60)
    assert len(pairs) == 10
    used = [i for a, b in pairs for i in (*a, *b)]
    assert len(used) == len(set(used)) == 60
    assert all(len(a) == len(b) == 3 for a, b in pairs)


def test_detection_windows_are_disjoint():
    w = instructions_study.windows(10)
    assert w == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_the_study_verdicts_use_the_gate_rule_on_disjoint_windows():
    samples = [100.0] * 6 + [100.0, 100.0, 100.0, 110.0, 110.0, 110.0]  # pair 1: +10% on its second window
    study = {"processes": 12, "spread": {"k": {"samples": samples}}, "slowed": {}, "wall": {}}
    result = instructions_study.verdicts(study)
    assert [bool(f) for f in result["aa"]] == [False, True]


def _study(processes: int = 12, detection: int = 6) -> dict:
    base = [100.0] * processes
    return {
        "processes": processes,
        "detection_processes": detection,
        "meta": {"valgrind": "valgrind-3.19.0", "aslr_disabled": True},
        "spread": {"optax_while/rosenbrock-100": {"samples": base, "total_samples": base}},
        "slowed": {"optax_while:0.1": {"samples": [110.0] * detection}},
        "wall": {},
        "seconds_total": 1.0,
    }


def test_detection_pairs_come_from_the_detection_processes_and_the_summary_counts_them(tmp_path):
    study = _study()
    result = instructions_study.verdicts(study)
    assert len(result["detection"]["optax_while:0.1"]) == 2  # 6 processes: two disjoint windows of 3
    instructions_study.write_outputs(study, result, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert (
        "pairs flagged of 2" in summary and "| +10% | optax_while | 1.1000 | 2/2 slower | - | - |" in summary
    )
    assert "12 processes per benchmark (spread, A/A), 6 per detection level" in summary


def test_a_stopped_study_resumes_its_finished_phases_and_refuses_other_settings(tmp_path):
    path = tmp_path / "study-instructions.json"
    settings = {"processes": 12, "detection_processes": 6, "solvers": ["scipy"], "levels": [0.1]}
    study = instructions_study.load_or_start(path, settings)
    calls: list[str] = []
    instructions_study._phase(study, path, "spread", lambda: calls.append("spread"))
    with pytest.raises(KeyboardInterrupt):  # stopped in the middle of the next phase
        instructions_study._phase(study, path, "instructions scipy:0.1", _interrupted)
    again = instructions_study.load_or_start(path, settings)
    assert list(again["phase_seconds"]) == ["spread"]  # saved when it finished, the stopped one not
    instructions_study._phase(again, path, "spread", lambda: calls.append("spread again"))
    assert calls == ["spread"]  # kept, not measured twice
    with pytest.raises(SystemExit, match="other settings"):
        instructions_study.load_or_start(path, {**settings, "processes": 60})


def _interrupted() -> None:
    raise KeyboardInterrupt


def test_a_phase_with_a_process_missing_is_not_saved():
    instructions_study.complete("spread k", [1.0] * 6, [], 6)  # complete: nothing raised
    with pytest.raises(RuntimeError, match="5 of 6 processes counted; not saved"):
        instructions_study.complete("spread k", [1.0] * 5, ["process 3: killed"], 6)


def test_each_saved_spread_chunk_is_one_whole_a_a_pair():
    chunk = instructions_study.SPREAD_CHUNK
    for j, (a, b) in enumerate(instructions_study.aa_pairs(60)):
        assert a + b == list(range(j * chunk, (j + 1) * chunk))


def test_the_detection_table_shows_the_seed_case_false_alarms_it_is_read_against(tmp_path):
    study = _study()
    other = [100.0] * 9 + [110.0] * 3  # another benchmark moved in A/A pair 1: not the seed case's
    study["spread"]["scipy/logistic-100"] = {"samples": other, "total_samples": other}
    seed = [100.0] * 9 + [110.0] * 3  # the seed case: A/A pair 1's second window 10% up
    study["spread"]["optax_while/rosenbrock-100"] = {"samples": seed, "total_samples": seed}
    scipy_seed = [100.0] * 3 + [90.0] * 3 + [100.0] * 6  # scipy's seed case: pair 0 down 10%
    study["spread"]["scipy/rosenbrock-100"] = {"samples": scipy_seed, "total_samples": scipy_seed}
    study["slowed"]["scipy:0.1"] = {"samples": [110.0] * 6}
    result = instructions_study.verdicts(study)
    assert result["aa_seed"] == {"optax_while": [0, 1], "scipy": [-1, 0]}
    instructions_study.write_outputs(study, result, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    table = summary[summary.index("| injected |") :].splitlines()
    assert table[2] == "| 0% (A/A) | optax_while | - | 1/2 slower | - | - |"  # before its levels
    assert table[4] == "| 0% (A/A) | scipy | - | 0/2 slower (+1 faster) | - | - |"
    assert (tmp_path / "detection.png").stat().st_size > 0


def test_the_wall_time_is_timed_in_rounds_so_each_pair_shares_its_minutes():
    calls: list[float] = []
    runs = instructions_study.wall_rounds_of(
        [0.05, 0.25], 2, lambda level: calls.append(level) or [len(calls)]
    )
    assert calls == [0.0, 0.0, 0.05, 0.25] * 2
    # the k-th timing process lands where it was made: unchanged 1, 2 | 5, 6; levels 3, 7 and 4, 8
    assert runs == {0.0: [[1], [2], [5], [6]], 0.05: [[3], [7]], 0.25: [[4], [8]]}
    # detection pair k: the unchanged run just before the level's (2k+1); level after level: run k
    assert [instructions_study.wall_base({"wall_order": "rounds"}, k) for k in range(2)] == [1, 3]
    assert [instructions_study.wall_base({}, k) for k in range(2)] == [0, 1]


def test_the_wall_verdicts_pair_each_level_with_the_unchanged_run_of_its_round():
    study = _study()
    fast, slow = [1.0 + 0.001 * i for i in range(10)], [1.5 + 0.001 * i for i in range(10)]
    # rounds: unchanged runs 1 and 3 (each just before the slowed runs) were slow, 0 and 2 fast
    study["wall"] = {"optax_while:0.0": [fast, slow, fast, slow], "optax_while:0.1": [slow, slow]}
    study["wall_order"] = "rounds"
    result = instructions_study.verdicts(study)
    assert [r["wall_direction"] for r in result["detection"]["optax_while:0.1"]] == [0, 0]
    assert result["wall_aa"] == {"optax_while": [1, 1]}  # 2j vs 2j+1: flagged slower
    study.pop("wall_order")  # level after level: pair k against unchanged run k (fast)
    result = instructions_study.verdicts(study)
    assert [r["wall_direction"] for r in result["detection"]["optax_while:0.1"]] == [1, 0]


def _finished(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "study-instructions.json"
    settings = {"processes": 6, "detection_processes": 3, "solvers": ["scipy"], "levels": [0.1], "code": "a"}
    study = instructions_study.load_or_start(path, settings)
    instructions_study._phase(study, path, "spread 0-5", lambda: None)
    instructions_study._phase(study, path, "instructions scipy:0.1", lambda: None)
    return path, settings


def test_finished_counts_are_retimed_with_other_code_only_through_redo_wall(tmp_path):
    path, settings = _finished(tmp_path)
    new = {**settings, "code": "b"}
    with pytest.raises(SystemExit, match="--redo-wall retimes"):
        instructions_study.load_or_start(path, new)
    study = instructions_study.load_or_start(path, new, retime_wall=True)
    assert study["settings"]["code"] == "a"  # the counts keep the code they were counted with
    study["wall_code"] = "b"
    instructions_study._phase(study, path, "wall scipy", lambda: None)
    assert instructions_study.load_or_start(path, new)["wall_code"] == "b"  # a stopped retime resumes


def test_unfinished_counts_are_never_resumed_with_other_code(tmp_path):
    path = tmp_path / "study-instructions.json"
    settings = {"processes": 12, "detection_processes": 3, "solvers": ["scipy"], "levels": [0.1], "code": "a"}
    study = instructions_study.load_or_start(path, settings)
    instructions_study._phase(study, path, "spread 0-5", lambda: None)  # one chunk of two
    with pytest.raises(SystemExit, match="other settings"):
        instructions_study.load_or_start(path, {**settings, "code": "b"}, retime_wall=True)


def test_counts_with_one_level_missing_are_not_finished(tmp_path):
    path = tmp_path / "study-instructions.json"
    settings = {
        "processes": 6,
        "detection_processes": 3,
        "solvers": ["scipy"],
        "levels": [0.1, 0.2],
        "code": "a",
    }
    study = instructions_study.load_or_start(path, settings)
    instructions_study._phase(study, path, "spread 0-5", lambda: None)  # every spread chunk
    instructions_study._phase(study, path, "instructions scipy:0.1", lambda: None)  # one level of two
    assert not instructions_study.counts_finished(study)
    instructions_study._phase(study, path, "instructions scipy:0.2", lambda: None)
    assert instructions_study.counts_finished(study)


def test_wall_time_retimed_by_other_code_is_not_kept_when_the_counts_code_returns(tmp_path):
    path, settings = _finished(tmp_path)
    study = instructions_study.load_or_start(path, {**settings, "code": "b"}, retime_wall=True)
    study.update(wall_code="b", wall={"scipy:0.0": [[1.0]]})
    instructions_study._phase(study, path, "wall scipy", lambda: None)
    with pytest.raises(SystemExit, match="timed with code b"):
        instructions_study.load_or_start(path, settings)  # back on the counts' code "a"
    assert instructions_study.load_or_start(path, settings, retime_wall=True)["wall_code"] == "b"


def test_the_summary_names_the_rule_the_engine_and_a_wall_time_left_out(tmp_path):
    study = _study()
    study["meta"].update(engine="native-aot:AVX2", valgrind_flags=["--tool=callgrind", "--toggle-collect=f"])
    instructions_study.write_outputs(study, instructions_study.verdicts(study), tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    named = "engine `native-aot:AVX2`, valgrind-3.19.0 (flags `--tool=callgrind --toggle-collect=f`)"
    assert named in summary
    assert "a change beyond 3 x the baseline window's spread, at least 0.5%, at most 5%." in summary
    assert "Wall time was not measured in this study (`--skip-wall`)." in summary


def test_the_figures_draw_the_gates_floor_and_the_studys_own_levels(tmp_path, monkeypatch):
    """The spread figure once drew a hard-coded ±2% band as "check-regressions' floor"; the detection
    figure labelled 3, 5, 10 and 25% whatever the levels measured."""
    from lbfgs_impl.plots import study as figures
    from lbfgs_impl.tracking.runs import Thresholds

    drawn = []
    monkeypatch.setattr(figures, "save", lambda fig, path: drawn.append(fig))
    study = _study()
    study["slowed"] = {
        "optax_while:0.005": {"samples": [100.5] * 6},
        "optax_while:0.01": {"samples": [101.0] * 6},
    }
    figures.instruction_spread(study, tmp_path / "spread.png")
    figures.detection(study, instructions_study.verdicts(study), tmp_path / "detection.png")
    spread, detection = (fig.axes[0] for fig in drawn)
    (band,) = [p for p in spread.patches if "floor" in p.get_label()]
    floor = 100 * Thresholds().instructions
    assert band.get_label().startswith(f"±{floor:g}%")
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((-floor, floor))
    assert [t.get_text() for t in detection.get_xticklabels()][1:] == ["0.5%", "1%"]


def test_every_solver_with_injected_work_gets_its_curve(tmp_path, monkeypatch):
    """The detection figure once drew optax_while and scipy only: a third solver's rows were measured,
    tabled and never drawn."""
    from lbfgs_impl.plots import study as figures

    drawn = []
    monkeypatch.setattr(figures, "save", lambda fig, path: drawn.append(fig))
    study = _study()
    study["spread"]["optax_loop/rosenbrock-100"] = dict(study["spread"]["optax_while/rosenbrock-100"])
    study["slowed"]["optax_loop:0.1"] = {"samples": [110.0] * 6}
    figures.detection(study, instructions_study.verdicts(study), tmp_path / "detection.png")
    labels = [
        line.get_label() for line in drawn[0].axes[0].get_lines() if not line.get_label().startswith("_")
    ]
    assert labels == ["optax_while: instructions", "optax_loop: instructions"]
