"""Machine, library versions and thread settings, stored with every result."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib import metadata
from typing import Any

PACKAGES = ("jax", "jaxlib", "optax", "scipy", "numpy")
THREAD_ENV_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
    "OPENBLAS_CORETYPE",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the timings."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's best guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_threads() -> list[dict[str, Any]] | None:
    """Thread pools loaded in this process (threadpoolctl), or ``None`` if unavailable."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [
        {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
        for info in threadpool_info()
    ]


def collect_meta(pinning: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to interpret a timing later: versions, CPU, threads, pinning."""
    import jax

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if pinning and pinning.get("pinned"):
        allowed = pinning.get("cpus_before", allowed)
    return {
        "timestamp_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": package_versions(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": allowed,
        "jax_backend": jax.default_backend(),
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV_VARS},
        "blas_threads": blas_threads(),
        "pinning": pinning if pinning is not None else {"pinned": False},
    }
