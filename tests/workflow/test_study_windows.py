"""The instruction study's A/A pairs and detection windows share no process (independent pairs)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import instructions_study


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
