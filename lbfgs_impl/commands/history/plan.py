"""Which releases ``lbfgs-bench history`` measures, and how their environments are built.

Two series on the same case:

* **optax**: every Optax release from 0.2.3 (the first with ``optax.lbfgs``) with one fixed JAX,
  the newest JAX every one of them imports on (:data:`FIXED_JAX_REASON`);
* **jax**: a chain of JAX releases, each with the newest Optax release that accepts it and imports
  on it (:data:`OPTAX_FOR_JAX_RULE`).

Each environment is a virtual environment ``<envs>/jax-<J>-optax-<O>`` with ``jax``, ``jaxlib``,
``optax``, ``scipy`` and ``numpy`` from pip (one download cache shared by all); lbfgs-bench itself
is not installed there: its checkout is put on ``PYTHONPATH``. The counted code path
(problem, ``optax_while`` solve, callgrind client requests) imports on every release of both series;
a release where it does not records its error instead of figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Release:
    """One environment: a JAX release (jax and jaxlib) and an Optax release."""

    jax: str
    optax: str

    @property
    def name(self) -> str:
        return f"jax-{self.jax}-optax-{self.optax}"


OPTAX_RELEASES = ("0.2.3", "0.2.4", "0.2.5", "0.2.6", "0.2.7", "0.2.8")
FIXED_JAX = "0.9.2"
FIXED_JAX_REASON = (
    "the newest JAX on which every Optax from 0.2.3 to 0.2.8 imports: from 0.10.0 on, JAX no longer "
    "knows the config option jax_pmap_shmap_merge that Optax 0.2.7 sets at import"
)
JAX_CHAIN = (
    ("0.4.30", "0.2.5"),
    ("0.4.33", "0.2.5"),
    ("0.4.35", "0.2.5"),
    ("0.4.38", "0.2.5"),
    ("0.5.0", "0.2.5"),
    ("0.5.3", "0.2.8"),
    ("0.6.2", "0.2.8"),
    ("0.7.2", "0.2.8"),
    ("0.8.3", "0.2.8"),
    ("0.9.2", "0.2.8"),
    ("0.10.2", "0.2.8"),
)
OPTAX_FOR_JAX_RULE = (
    "each JAX with the newest Optax that accepts it: Optax 0.2.6 and later require jax>=0.5.3, so the "
    "releases before 0.5.3 run Optax 0.2.5"
)

SERIES: dict[str, tuple[Release, ...]] = {
    "optax": tuple(Release(FIXED_JAX, o) for o in OPTAX_RELEASES),
    "jax": tuple(Release(j, o) for j, o in JAX_CHAIN),
}


def releases(series: list[str]) -> list[Release]:
    """The releases of the named series, each once, in series order."""
    seen: dict[str, Release] = {}
    for name in series:
        for release in SERIES[name]:
            seen.setdefault(release.name, release)
    return list(seen.values())


def env_python(envs_dir: Path, release: Release) -> Path:
    return envs_dir / release.name / "bin" / "python"


def build_env(envs_dir: Path, release: Release, python: str, pip_cache: Path | None) -> Path:
    """The environment of ``release`` under ``envs_dir``, built unless one that imports is there."""
    exe = env_python(envs_dir, release)
    if exe.exists() and subprocess.run([exe, "-c", "import jax, optax"], capture_output=True).returncode == 0:
        return exe
    shutil.rmtree(exe.parents[1], ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(exe.parents[1])], check=True)
    env = dict(os.environ)
    if pip_cache is not None:
        env["PIP_CACHE_DIR"] = str(pip_cache)
    reqs = [f"jax=={release.jax}", f"jaxlib=={release.jax}", f"optax=={release.optax}", "scipy", "numpy"]
    proc = subprocess.run([exe, "-m", "pip", "install", "-q", *reqs], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"pip could not build {release.name}: {last}")
    return exe


def disk_use(path: Path) -> int:
    """Bytes of every file under ``path`` (0 if it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
