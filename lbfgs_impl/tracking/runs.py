"""The gate's data model: a pytest-benchmark run, thresholds, findings and one comparison."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The key under which the results store records the nightly's verdict on a night (``{"exit": 0, ...}``).
GATE_KEY = "lbfgs_bench_gate"


class DataError(Exception):
    """A file cannot be used (missing, not JSON, not pytest-benchmark, nothing in common)."""


@dataclass(frozen=True)
class Thresholds:
    """Every limit the gate applies (defaults are the nightly's).

    Attributes:
      threshold: median slowdown that can alert (fraction).
      alpha: significance of the one-sided rank test on raw samples.
      count_tolerance: allowed rise of iterations/evaluations.
      quality_factor: allowed factor on gradient norm / loss.
      value_floor: losses/gradient norms below this are "zero" for the factor test.
      instructions: floor of the instruction limit.
      instructions_spread_factor: the limit is this many times the **baseline's** repeat spread...
      instructions_cap: ...capped here, so a noisy baseline cannot hide a large change.
      spread_rise_factor, spread_floor: a current spread above max(factor x baseline spread,
        floor) is a finding of its own.
      share_band: a thread-pool share that rises by more than max(this, 3 x the baseline's
        per-process range of the share) is a finding...
      share_band_cap: ...a band never wider than this, whatever the baseline's range.
    """

    threshold: float = 0.10
    alpha: float = 0.05
    count_tolerance: float = 0.05
    quality_factor: float = 10.0
    value_floor: float = 1e-12
    instructions: float = 0.005
    instructions_spread_factor: float = 3.0
    instructions_cap: float = 0.05
    spread_rise_factor: float = 3.0
    spread_floor: float = 0.005
    share_band: float = 0.05
    share_band_cap: float = 0.10

    def instruction_limit(self, baseline_spread: float) -> float:
        """Relative change in instructions that counts: from the baseline's spread, floored and capped."""
        return min(
            self.instructions_cap, max(self.instructions, self.instructions_spread_factor * baseline_spread)
        )

    def share_limit(self, baseline_range: float) -> float:
        """The rise of the thread-pool share that counts: from the baseline's range, floored and capped."""
        return min(self.share_band_cap, max(self.share_band, 3 * baseline_range))

    def spread_limit(self, baseline_spread: float) -> float:
        """The current spread above which the counts themselves became noisy."""
        return max(self.spread_floor, self.spread_rise_factor * baseline_spread)


def percent(x: float) -> str:
    """A limit as a percentage with every digit it has (0.005 -> ``0.5%``, 0.025 -> ``2.5%``): never
    rounded to another number, whatever a command line sets it to."""
    return f"{100 * x:.6g}%"


def apart(a: float, b: float, digits: int = 1) -> tuple[str, str]:
    """``a`` and ``b`` as percentages, with ``digits`` decimals or more until they read differently: a
    change just beyond its limit never reads equal to it (``+0.5% > limit 0.5%``)."""
    for d in range(digits, 7):
        shown = f"{a:.{d}%}", f"{b:.{d}%}"
        if shown[0] != shown[1]:
            return shown
    return shown


def machine_key_of(cpu: dict[str, Any]) -> str:
    """A file-name-safe key for wall-time baselines from pytest-benchmark's ``machine_info['cpu']``."""
    arch = cpu.get("arch_string_raw") or cpu.get("arch", "?")
    text = f"{cpu.get('brand_raw', '?')}-{cpu.get('count', '?')}cpu-{arch}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def this_machine_key() -> str:
    """:func:`machine_key_of` for this machine, as pytest-benchmark will record it (py-cpuinfo)."""
    import cpuinfo

    return machine_key_of(cpuinfo.get_cpu_info())


def short_commit(commit: object, missing: str = "unknown commit") -> str:
    """A commit id for a person: a git hash to 10 digits, any other label (``unversioned``) whole."""
    if not isinstance(commit, str) or not commit:
        return missing
    return commit[:10] if re.fullmatch(r"[0-9a-f]{11,64}", commit) else commit


@dataclass
class BenchmarkRun:
    """One file: its benchmarks by full name, plus where and how it ran."""

    path: str
    benchmarks: dict[str, dict[str, Any]]
    machine_info: dict[str, Any]
    commit_info: dict[str, Any]
    datetime: str | None
    gate: dict[str, Any] | None = (
        None  # the nightly's verdict on this run, when it came from the results store
    )

    def versions(self) -> dict[str, Any]:
        for bench in self.benchmarks.values():
            if isinstance(bench.get("extra_info", {}).get("versions"), dict):
                return bench["extra_info"]["versions"]
        return {}

    def machine(self) -> str:
        """What decides wall time: CPU model, logical CPUs and architecture (not the host name)."""
        cpu = self.machine_info.get("cpu") or {}
        return f"{cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} logical CPUs, {cpu.get('arch', '?')}"

    def machine_key(self) -> str:
        return machine_key_of(self.machine_info.get("cpu") or {})

    def commit(self) -> str | None:
        """The commit measured, or None when unknown or the tree was dirty (then it is not that commit)."""
        commit = self.commit_info.get("id")
        return commit if isinstance(commit, str) and not self.commit_info.get("dirty") else None

    def pinning(self) -> Any:
        for bench in self.benchmarks.values():
            if "pinning" in bench.get("extra_info", {}):
                return bench["extra_info"]["pinning"]
        return None


#: Finding kinds that say a signal was not compared (exit 2 when nothing regressed), not that it got worse.
NOT_COMPARED = frozenset(
    {
        "instructions not measured",
        "instructions not compared",
        "thread-pool share not measured",
        "quality not measured",
        "quality not compared",
        "not run",
        "time not measured",
    }
)


@dataclass
class Finding:
    """One regression, improvement, or a signal that could not be compared."""

    benchmark: str
    kind: str  # "time", "instructions", "instructions not measured", ... or a quality figure
    baseline: Any
    current: Any
    ratio: float | None
    rule: str
    noise: str = ""
    confirmation: str = ""
    time_only: bool = False  # a time finding whose instruction count was compared and did not move


@dataclass
class Comparison:
    baseline: BenchmarkRun
    current: BenchmarkRun
    thresholds: Thresholds
    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)
    unconfirmed: list[Finding] = field(default_factory=list)
    noise: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_allowed: bool = False  # --allow-missing: listed, not a regression
    new: list[str] = field(default_factory=list)
    compared: int = 0
    quality_compared: int = 0
    time_compared: bool = True
    time_baseline: BenchmarkRun | None = None
    instruction_baseline: BenchmarkRun | None = None
    instructions_compared: int = 0
    environment_mismatch: str | None = None  # "valgrind X vs Y" when counts were not comparable
    signals: list[tuple[str, str]] = field(default_factory=list)  # (signal, compared how / why not)
    confirm_notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(
        default_factory=list
    )  # (title, Markdown lines), e.g. series

    def worse(self) -> list[Finding]:
        """The findings that say something got worse (not the ones that say it was not compared)."""
        return [f for f in self.regressions if f.kind not in NOT_COMPARED]

    def not_compared(self) -> list[Finding]:
        return [f for f in self.regressions if f.kind in NOT_COMPARED]

    def exit_code(self) -> int:
        """0 nothing found, 1 a regression, 2 a signal not compared (and nothing regressed)."""
        if self.worse():
            return 1
        return 2 if self.not_compared() else 0


def load_run(path: str | Path) -> BenchmarkRun:
    """Read a pytest-benchmark JSON file; ``DataError`` says what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("benchmarks"), list)
        or "machine_info" not in doc
        or not all(isinstance(b, dict) and "fullname" in b and "stats" in b for b in doc["benchmarks"])
    ):
        raise DataError(f"{p}: not a pytest-benchmark result file (no machine_info/benchmarks)")
    bad = _malformed(doc)
    if bad:
        raise DataError(f"{p}: not a usable pytest-benchmark result file: {bad}")
    names = [b["fullname"] for b in doc["benchmarks"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{p}: benchmark(s) listed twice, which copy counts is unknown: {', '.join(twice)}")
    benchmarks = {b["fullname"]: b for b in doc["benchmarks"]}
    gate = doc.get(GATE_KEY) if isinstance(doc.get(GATE_KEY), dict) else None
    return BenchmarkRun(
        str(p), benchmarks, doc["machine_info"], doc.get("commit_info") or {}, doc.get("datetime"), gate
    )


def _malformed(doc: dict[str, Any]) -> str | None:
    """What in a pytest-benchmark document has the wrong type (read later without checks), or None."""
    info = doc["machine_info"]
    if not isinstance(info, dict) or not isinstance(info.get("cpu") or {}, dict):
        return "machine_info (or its cpu) is not an object"
    if not isinstance(doc.get("commit_info") or {}, dict):
        return "commit_info is not an object"
    for b in doc["benchmarks"]:
        if not isinstance(b["fullname"], str):
            return f"a fullname is not text: {b['fullname']!r}"
        if not isinstance(b["stats"], dict) or not isinstance(b.get("extra_info") or {}, dict):
            return f"{b['fullname']}: stats/extra_info is not an object"
    return None


def is_count(x: Any) -> bool:
    """A usable instruction count: a finite positive number (not a bool, not None/NaN/text)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
