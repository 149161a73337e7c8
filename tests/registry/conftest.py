"""The example plugin package installed with pip into a throwaway environment, once per session.

The environment is a venv whose ``.pth`` file adds the running interpreter's site-packages as a
site directory (JAX, lbfgs-bench and pip come from there), with the example installed into it by
``pip install --no-deps --no-build-isolation``: its entry points are real, and the running
environment is left untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "lbfgs_bench_example"


def _env_python(root: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # addsitedir, not a bare path: the parent's own .pth files (an editable install's) apply too
    lines = [f"import site; site.addsitedir({p!r})\n" for p in sorted(parents)]
    Path(site, "_parent_env.pth").write_text("".join(lines))
    return python


def plugin_env(python: Path, pythonpath: str = "") -> dict[str, str]:
    """The environment to run ``python`` in: the checkout first on the path, like the tests."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), pythonpath) if p)
    return env


@pytest.fixture(scope="session")
def example_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of an environment where ``pip install`` put the example plugin."""
    root = tmp_path_factory.mktemp("example-env") / "venv"
    python = _env_python(root)
    build = tmp_path_factory.mktemp("example-src")
    # a copy, so that the build leaves nothing (build/, *.egg-info) in the checkout
    subprocess.run(["cp", "-r", str(EXAMPLE), str(build)], check=True)
    out = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "-q", str(build / EXAMPLE.name)],
        capture_output=True,
        text=True,
        env=plugin_env(python),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert sys.prefix != str(root)
    return python


@pytest.fixture(scope="session")
def example_env(example_python: Path) -> dict[str, str]:
    """The environment variables to run ``example_python`` with."""
    return plugin_env(example_python)
