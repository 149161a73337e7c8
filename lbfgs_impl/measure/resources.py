"""Will a problem fit in memory? Checked before building it, so an impossible size is refused up front."""

from __future__ import annotations

import os
from typing import Any

from lbfgs_impl.problems import data_bytes

#: float64 vectors of length n kept by a solve besides the L-BFGS pairs: iterate, gradient,
#: direction, line-search trial point and gradient, SciPy's copies and XLA temporaries.
WORKING_VECTORS = 20


class InsufficientMemory(ValueError):
    """The problem cannot fit; the message says how much it needs and how much there is."""


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` (what can be used without swapping), else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def required_bytes(problem: str, n: int, memory_size: int = 10, **params: Any) -> int:
    """A lower estimate of the memory one solve of ``problem`` at size ``n`` needs.

    The problem's data counts twice (the host array it is built from and the
    device copy); the solver keeps ``2 * memory_size`` L-BFGS vectors and
    about :data:`WORKING_VECTORS` more, all float64.
    """
    return 2 * data_bytes(problem, n, **params) + 8 * n * (2 * memory_size + WORKING_VECTORS)


def _gib(nbytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes / 2**10:.1f} KiB"


def check_fits(problem: str, n: int, memory_size: int = 10, **params: Any) -> None:
    """Raise :class:`InsufficientMemory` when the solve cannot fit in the available memory."""
    need = required_bytes(problem, n, memory_size, **params)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise InsufficientMemory(
            f"{problem} n={n} needs at least {_gib(need)} of memory (problem data and L-BFGS state); "
            f"this machine has {_gib(have)} available"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (NumPy's ``MemoryError`` or XLA's ``RESOURCE_EXHAUSTED``)."""
    return isinstance(exc, MemoryError) or "RESOURCE_EXHAUSTED" in str(exc)
