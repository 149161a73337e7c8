import json
import os

import pytest

from lbfgs_impl.outputs import OutputError, write_json_atomic


def test_atomic_json_write_creates_parents_and_round_trips(tmp_path):
    path = tmp_path / "a" / "b" / "r.json"
    write_json_atomic(path, {"x": [1, 2.5, None]})
    assert json.loads(path.read_text()) == {"x": [1, 2.5, None]}


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"new": object()})  # not serialisable

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # fails after the data went to the temp file
    with pytest.raises(OutputError, match="No space left"):
        write_json_atomic(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
