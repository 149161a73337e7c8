"""Where solvers and problems come from: entry points, ``module:attr`` specs, the built-in table.

Installed distributions register solvers under the entry-point group
``lbfgs_bench.solvers`` and problems under ``lbfgs_bench.problems`` (benchopt's and
pytest's convention). lbfgs-bench registers its own through the same groups; when
the code runs from a source checkout without being installed (``PYTHONPATH`` only),
or from an install that declares no entry points, the same names come from a
built-in table instead, so the suite finds its own solvers either way.

A name that two distributions register is refused where it is used (one line
naming both); ``lbfgs-bench list`` shows it. Everything refused here raises
:class:`PluginError`, a :class:`ValueError` whose message is one line.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SOLVER_GROUP = "lbfgs_bench.solvers"
PROBLEM_GROUP = "lbfgs_bench.problems"
OWN_DISTRIBUTION = "lbfgs-bench"


class PluginError(ValueError):
    """A plugin cannot be used: the message is one line saying why."""


@dataclass(frozen=True)
class Origin:
    """Where a solver or problem comes from (recorded with every result).

    Attributes:
      kind: ``"built-in"``, ``"entry point"`` or ``"module"`` (a ``module:attr`` spec).
      target: the ``module:attr`` that was loaded.
      distribution: the installed distribution that provides it, if any.
      version: that distribution's version.
    """

    kind: str
    target: str
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """One phrase, e.g. ``entry point of lbfgs-bench-example 0.1.0``."""
        where = f"{self.distribution} {self.version}" if self.distribution else ""
        if self.kind == "entry point":
            return f"entry point of {where} ({self.target})"
        if self.kind == "built-in":
            return f"built-in ({where or 'source checkout'})"
        return f"module {self.target}" + (f" of {where}" if where else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "distribution": self.distribution,
            "version": self.version,
        }


def one_line(exc: BaseException) -> str:
    """An exception's last non-empty line, prefixed with its type (what a traceback ends with)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1]}" if lines else type(exc).__name__


@dataclass(frozen=True)
class Registration:
    """One entry point of ``group``: its name, ``module:attr`` target and distribution."""

    name: str
    target: str
    distribution: str
    version: str

    def origin(self) -> Origin:
        kind = "built-in" if self.distribution == OWN_DISTRIBUTION else "entry point"
        return Origin(kind, self.target, self.distribution, self.version)


def _entry_points(group: str) -> list[Registration]:
    out = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        name = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        out.append(Registration(ep.name, ep.value, name, version))
    return out


@functools.cache
def registrations(group: str) -> tuple[Registration, ...]:
    """Every entry point in ``group`` (read once per process; :func:`refresh` re-reads)."""
    return tuple(_entry_points(group))


def refresh() -> None:
    """Forget the entry points read so far (after installing a plugin in a running process)."""
    registrations.cache_clear()
    _own_version.cache_clear()


@functools.cache
def _own_version() -> str | None:
    try:
        return metadata.version(OWN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def builtin_registrations(group: str, table: Mapping[str, str]) -> list[Registration]:
    """lbfgs-bench's own names in ``group``: its entry points when the installed distribution declares
    them, else ``table`` (name -> ``module:attr``), in the table's order."""
    own = {r.name: r for r in registrations(group) if r.distribution == OWN_DISTRIBUTION}
    version = _own_version() or "source checkout"
    if not own:
        return [Registration(name, target, OWN_DISTRIBUTION, version) for name, target in table.items()]
    ordered = [own.pop(name) for name in table if name in own]
    return ordered + list(own.values())


def third_party(group: str) -> dict[str, list[Registration]]:
    """Entry points of other distributions, by name (a list of two or more is a conflict)."""
    out: dict[str, list[Registration]] = {}
    for r in registrations(group):
        if r.distribution != OWN_DISTRIBUTION:
            out.setdefault(r.name, []).append(r)
    return out


def conflict_message(kind: str, name: str, regs: list[Registration]) -> str:
    who = " and ".join(f"{r.distribution} {r.version} ({r.target})" for r in regs)
    return f"{kind} {name!r} is registered by more than one distribution: {who}; uninstall one of them"


def is_spec(name: str) -> bool:
    """``module:attr`` (a plugin named by its import path) rather than a registered name."""
    return ":" in name


def distribution_of(module: str) -> tuple[str | None, str | None]:
    """The installed distribution providing top-level package ``module`` (or ``(None, None)``)."""
    top = module.split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if not names:
        return None, None
    try:
        return names[0], metadata.version(names[0])
    except metadata.PackageNotFoundError:
        return names[0], None


def load_target(target: str, what: str) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); :class:`PluginError` in one line otherwise."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{what}: expected module:attr, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # whatever the user's module raises while importing
        raise PluginError(f"{what}: module {module_name!r} does not import: {one_line(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"{what}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def spec_origin(spec: str) -> Origin:
    dist, version = distribution_of(spec.partition(":")[0])
    return Origin("module", spec, dist, version)
