"""valgrind, the client-request helper and ASLR: what instruction counts need from the machine."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

SHIM_SOURCE = Path(__file__).parent / "_native" / "callgrind_shim.c"


class InstructionsUnavailable(RuntimeError):
    """valgrind, a C compiler or callgrind's header is missing; the message says which."""


def valgrind_version() -> str | None:
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _aslr_off_prefix() -> list[str]:
    """``setarch <arch> -R`` if it works here (containers may forbid personality changes)."""
    exe = shutil.which("setarch")
    if exe is None:
        return []
    cmd = [exe, platform.machine(), "-R"]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True).returncode == 0
    except OSError:
        ok = False
    return cmd if ok else []


def build_shim(directory: str | os.PathLike[str]) -> Path:
    """Compile the client-request helper into ``directory``; :class:`InstructionsUnavailable` if it can't."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise InstructionsUnavailable(
            "instruction counts need a C compiler (cc or gcc) to build their helper"
        )
    digest = hashlib.sha256(SHIM_SOURCE.read_bytes()).hexdigest()[:12]
    out = Path(directory) / f"callgrind_shim-{digest}.so"
    try:
        proc = subprocess.run(
            [cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(SHIM_SOURCE)], capture_output=True, text=True
        )
    except OSError as exc:
        raise InstructionsUnavailable(
            f"could not build the callgrind helper with {cc}: {exc.strerror}"
        ) from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[0]
        raise InstructionsUnavailable(f"could not build the callgrind helper with {cc}: {first}")
    return out


def unavailable_reason() -> str | None:
    """Why instruction counts cannot be taken here, or ``None`` when they can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install valgrind)"
    try:
        with tempfile.TemporaryDirectory(prefix="lbfgs-bench-shim-") as tmp:
            build_shim(tmp)
    except InstructionsUnavailable as exc:
        return str(exc)
    return None
