"""scripts/split_args.sh: PERF_ARGS/CHECK_ARGS split as a shell splits them, or the night stops (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    'set -euo pipefail; source scripts/split_args.sh; split_into a "$1"; '
    'printf "%s:" "${#a[@]}"; for w in "${a[@]}"; do printf "[%s]" "$w"; done; echo end'
)


def _split(text: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}  # `python` is this interpreter
    return subprocess.run(["bash", "-c", PRINT, "_", text], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('-k "a or b" --x 2', "4:[-k][a or b][--x][2]"),
        ("--x ''", "2:[--x][]"),  # a trailing empty word is kept
        ("", "0:"),  # nothing: an empty array, fine under set -u
    ],
)
def test_words_as_a_shell_splits_them(text, words):
    proc = _split(text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{words}end\n"


def test_an_unclosed_quote_stops_with_one_line_and_exit_2():
    proc = _split('-k "a or b')
    assert proc.returncode == 2 and "end" not in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        'nightly: cannot split a into options (an unclosed quote?): -k "a or b'
    ]
