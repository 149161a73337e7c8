"""JAX's persistent compilation cache for the counted processes (compiling is ~5x slower under valgrind).

The counted processes of one measurement share a cache so that only the first
process of a task compiles; ``$JAX_COMPILATION_CACHE_DIR`` (JAX's own variable),
when the caller set it, is used instead of a temporary directory, so later runs
load the executables too. Only the solve is ever counted, so where an executable
came from does not change the count (tests/measure/test_instructions.py checks it).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The counted processes' folder inside the user's cache: executables built under valgrind's flags
#: (``FIXED_ENV``), and every small one (no minimum size or compile time), kept apart from theirs.
USER_SUBFOLDER = "lbfgs-bench-callgrind"


def user_cache_dir() -> Path | None:
    """``$JAX_COMPILATION_CACHE_DIR/lbfgs-bench-callgrind`` when the caller set JAX's variable."""
    user = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return Path(user) / USER_SUBFOLDER if user else None


def counting_cache_dir(default: Path) -> Path:
    """Where the counted processes keep JAX's persistent cache: :func:`user_cache_dir` when the
    caller set ``$JAX_COMPILATION_CACHE_DIR``, else ``default`` (a temporary directory)."""
    return user_cache_dir() or default


def cache_note() -> str:
    """How the counted processes used JAX's persistent cache (stored in the counts' metadata)."""
    user = user_cache_dir()
    if user:
        return f"{user} (in $JAX_COMPILATION_CACHE_DIR; persistent: shared with other runs)"
    return "shared by the repeats of one measurement (temporary)"


def compile_cache_env(directory: Path) -> dict[str, str]:
    """The environment that turns JAX's persistent cache on in ``directory`` for a counted process.

    XLA compiles ~5x slower under valgrind (~12 s for optax_while on the seed
    case); with the cache, only the first process of a task compiles and the
    later repeats load the same executable. Not used when compilation itself
    is counted.
    """
    return {
        "JAX_ENABLE_COMPILATION_CACHE": "true",
        "JAX_COMPILATION_CACHE_DIR": str(directory),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }
