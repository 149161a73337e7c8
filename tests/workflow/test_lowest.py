"""The lowest environment: ci/constraints-lowest.txt pins every declared dependency to its floor."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import lowest_constraints  # noqa: E402

CONSTRAINTS = ROOT / "ci" / "constraints-lowest.txt"


def _pins() -> dict[tuple[str, str], str]:
    """``{(name, marker): version}`` of the committed constraints file."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", line
        key = (canonicalize_name(req.name), str(req.marker or ""))
        assert key not in pins, f"pinned twice: {line}"
        pins[key] = spec.version
    return pins


def test_the_committed_file_is_the_generated_one():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lowest_constraints.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_declared_dependency_is_pinned_to_its_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = [Requirement(r) for r in project["dependencies"]]
    for extra in ("peers", "cluster", "test"):  # the test extra and those it names
        declared += [Requirement(r) for r in extras[extra] if not r.startswith("lbfgs-bench")]
    pins = _pins()
    assert len(declared) >= 17 and len(pins) == len(declared)
    for req in declared:
        # a tool pinned exactly (the linters CI runs) is its own floor
        (floor,) = [s.version for s in req.specifier if s.operator in (">=", "==")]
        assert pins[canonicalize_name(req.name), str(req.marker or "")] == floor, req
        assert req.specifier.contains(floor), f"{req}: its own floor is excluded"


def test_every_test_extra_is_covered():
    """A new extra named by ``test`` is followed; a name that is not an extra is one clear error."""
    pyproject = {
        "project": {
            "name": "p",
            "dependencies": ["a>=1"],
            "optional-dependencies": {"test": ["p[x]", "b>=2"], "x": ["c>=3; python_version < '3.13'"]},
        }
    }
    text = lowest_constraints.render(lowest_constraints.declared_requirements(pyproject))
    assert text.endswith('a==1\nb==2\nc==3; python_version < "3.13"\n')
    pyproject["project"]["optional-dependencies"]["test"] = ["p[nope]"]
    try:
        lowest_constraints.declared_requirements(pyproject)
    except SystemExit as exc:
        assert "extra 'nope' is not declared; declared: test, x" in str(exc)
    else:
        raise AssertionError("an undeclared extra was accepted")


def test_tox_lowest_installs_under_the_constraints():
    tox = (ROOT / "tox.ini").read_text()
    section = tox.split("[testenv:lowest]", 1)[1].split("\n[", 1)[0]
    assert "-c {tox_root}/ci/constraints-lowest.txt" in section
    assert "extras = test" in section and 'pytest -m "not slow"' in section
