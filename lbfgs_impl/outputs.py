"""Result files: checked before a run, written atomically, with the mode ``open()`` would give.

Every command that writes a file calls :func:`check_writable` on it *before*
measuring (a long run must not end in an unwritable path) and writes it with
:func:`atomic_write_text`, so a reader sees the old file or the whole new one.
Missing parent directories are created.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


class OutputError(Exception):
    """A result file cannot be written; the message is one line naming the path."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave: kept if the file exists, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s directory (created if missing), as ``mkstemp`` returns it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` can be written later; create missing parent directories.

    The check writes and removes a temporary file beside ``path`` (the same
    way :func:`atomic_write_text` will), which catches read-only file systems
    and pseudo-file systems such as ``/proc`` where permission bits say yes.

    Raises:
      OutputError: with one line saying which path and why.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    fd, tmp = _temporary_beside(target)
    os.close(fd)
    os.unlink(tmp)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {target}: permission denied")
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """:func:`atomic_write_text` for bytes (a PNG, for example)."""
    path = Path(path)
    fd, tmp = _temporary_beside(path)
    _finish(fd, tmp, path, lambda f: f.write(data), "wb")


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Render a matplotlib figure to PNG and write it atomically."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())


def _finish(fd: int, tmp: str, path: Path, write: Any, mode: str) -> None:
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one.

    Missing parent directories are created. The file gets the permission bits
    a plain ``open(path, "w")`` would give (the existing file's, or the
    umask's), not the 0600 of a temporary file.

    Raises:
      OutputError: the file could not be written (the old file, if any, is untouched).
    """
    path = Path(path)
    fd, tmp = _temporary_beside(path)
    _finish(fd, tmp, path, lambda f: f.write(text), "w")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Serialise ``obj`` as indented JSON and write it with :func:`atomic_write_text`."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")
