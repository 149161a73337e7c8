"""Noise-aware comparison of two pytest-benchmark result files.

A benchmark's **time** regresses only when both hold:

1. its median got slower by more than ``threshold`` (default 10%), and
2. the change stands out of the measured noise: with raw samples in both
   files (``--benchmark-save-data``) a one-sided Mann-Whitney U test says the
   current samples are larger (p < ``alpha``), or, with fewer than 4 samples a
   side, every current sample is slower than every baseline sample; without
   raw samples, the interquartile ranges no longer overlap (current q1 > baseline q3).

**Instructions** (``extra_info["instructions"]``, from ``pytest perf --perf-instructions``)
are counted under callgrind and do not depend on the machine's load or model:
a benchmark regresses when its count rises by more than
``max(instructions_threshold, instructions_spread_factor * spread)``, the
spread being the larger relative (max - min) / median of the two runs'
repeats. No confirmation re-run is needed. Wall time is compared only when
both runs come from the same machine (CPU model, logical CPU count and
architecture; hosted CI runners change hardware from night to night), and the
report says so when it is not.

**Quality** is exact and noise-free (from each benchmark's ``extra_info``):
iterations or f+g evaluations up by more than ``count_tolerance``, ``converged``
turned false, final gradient norm or loss worse by more than ``quality_factor``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import scipy.stats

#: Below this many samples a side, a one-sided Mann-Whitney test cannot reach p < 0.05
#: (3 vs 3 gives at best p = 0.05), so complete separation is required instead.
MIN_SAMPLES_FOR_RANK_TEST = 4


class DataError(Exception):
    """A file cannot be used (missing, not JSON, not pytest-benchmark, nothing in common)."""


@dataclass(frozen=True)
class Thresholds:
    threshold: float = 0.10
    alpha: float = 0.05
    count_tolerance: float = 0.05
    quality_factor: float = 10.0
    value_floor: float = 1e-12  # losses/gradient norms below this are "zero" for the factor test
    instructions: float = 0.02
    instructions_spread_factor: float = 3.0

    def instruction_limit(self, spread: float) -> float:
        """Relative rise in instructions that counts: a few times the measured spread, at least the floor."""
        return max(self.instructions, self.instructions_spread_factor * spread)


@dataclass
class BenchmarkRun:
    """One file: its benchmarks by full name, plus where and how it ran."""

    path: str
    benchmarks: dict[str, dict[str, Any]]
    machine_info: dict[str, Any]
    commit_info: dict[str, Any]
    datetime: str | None

    def versions(self) -> dict[str, Any]:
        for bench in self.benchmarks.values():
            if isinstance(bench.get("extra_info", {}).get("versions"), dict):
                return bench["extra_info"]["versions"]
        return {}

    def machine(self) -> str:
        """What decides wall time: CPU model, logical CPUs and architecture (not the host name)."""
        cpu = self.machine_info.get("cpu") or {}
        return f"{cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} logical CPUs, {cpu.get('arch', '?')}"

    def pinning(self) -> Any:
        for bench in self.benchmarks.values():
            if "pinning" in bench.get("extra_info", {}):
                return bench["extra_info"]["pinning"]
        return None


@dataclass
class Finding:
    """One regression or improvement."""

    benchmark: str
    kind: str  # "time" or a quality figure
    baseline: Any
    current: Any
    ratio: float | None
    rule: str
    noise: str = ""
    confirmation: str = ""


@dataclass
class Comparison:
    baseline: BenchmarkRun
    current: BenchmarkRun
    thresholds: Thresholds
    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)
    unconfirmed: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    compared: int = 0
    time_compared: bool = True
    instructions_compared: int = 0
    confirm_notes: list[str] = field(default_factory=list)


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
    benchmarks = {b["fullname"]: b for b in doc["benchmarks"]}
    return BenchmarkRun(
        str(p), benchmarks, doc["machine_info"], doc.get("commit_info") or {}, doc.get("datetime")
    )


def _noise(stats: dict[str, Any]) -> float:
    """Relative interquartile range of one benchmark's samples."""
    median = stats.get("median") or 0.0
    return (stats.get("iqr") or 0.0) / median if median else math.inf


def time_change(name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds) -> Finding | None:
    """The wall-time finding for one benchmark (a pytest-benchmark entry each side), if any."""
    bs, cs = base["stats"], cur["stats"]
    ratio = cs["median"] / bs["median"] if bs["median"] > 0 else math.inf
    slower = ratio > 1.0 + th.threshold
    faster = ratio < 1.0 / (1.0 + th.threshold)
    if not (slower or faster):
        return None
    noise = f"IQR {_noise(bs):.1%} / {_noise(cs):.1%}"
    bdata, cdata = bs.get("data"), cs.get("data")
    if bdata and cdata and min(len(bdata), len(cdata)) >= MIN_SAMPLES_FOR_RANK_TEST:
        alternative = "greater" if slower else "less"
        p = scipy.stats.mannwhitneyu(cdata, bdata, alternative=alternative).pvalue
        if p >= th.alpha:
            return None
        rule = f"median {ratio:.2f}x and Mann-Whitney U p={p:.2g} < {th.alpha:g}"
    elif bdata and cdata:  # too few samples for a rank test to reach alpha: ask for full separation
        separated = min(cdata) > max(bdata) if slower else max(cdata) < min(bdata)
        if not separated:
            return None
        direction = "slower" if slower else "faster"
        rule = f"median {ratio:.2f}x and every sample {direction} than every baseline sample"
    else:
        separated = cs["q1"] > bs["q3"] if slower else cs["q3"] < bs["q1"]
        if not separated:
            return None
        rule = f"median {ratio:.2f}x and interquartile ranges do not overlap"
    return Finding(name, "time", bs["median"], cs["median"], ratio, rule, noise)


def instruction_change(
    name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds
) -> Finding | None:
    """The instruction-count finding for one benchmark (``extra_info`` each side), if any."""
    bi, ci = base.get("extra_info") or {}, cur.get("extra_info") or {}
    b, c = bi.get("instructions"), ci.get("instructions")
    if not (isinstance(b, (int, float)) and isinstance(c, (int, float)) and b > 0):
        return None
    spread = max(bi.get("instructions_spread") or 0.0, ci.get("instructions_spread") or 0.0)
    limit = th.instruction_limit(spread)
    ratio = c / b
    noise = f"spread {bi.get('instructions_spread') or 0:.2%} / {ci.get('instructions_spread') or 0:.2%}"
    how = f"threshold {limit:.1%} = max({th.instructions:.0%}, {th.instructions_spread_factor:g} x spread)"
    if ratio > 1.0 + limit:
        return Finding(name, "instructions", b, c, ratio, f"instructions +{ratio - 1:.1%} > {how}", noise)
    if ratio < 1.0 - limit:
        return Finding(name, "instructions", b, c, ratio, f"instructions {ratio - 1:.1%} < -{how}", noise)
    return None


def _quality_changes(
    name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds
) -> tuple[list[Finding], list[Finding]]:
    bi, ci = base.get("extra_info") or {}, cur.get("extra_info") or {}
    worse: list[Finding] = []
    better: list[Finding] = []
    for key in ("n_iter", "n_fev"):
        if isinstance(bi.get(key), int) and isinstance(ci.get(key), int) and bi[key] > 0:
            ratio = ci[key] / bi[key]
            if ratio > 1.0 + th.count_tolerance:
                worse.append(
                    Finding(name, key, bi[key], ci[key], ratio, f"up more than {th.count_tolerance:.0%}")
                )
            elif ratio < 1.0 - th.count_tolerance:
                better.append(
                    Finding(name, key, bi[key], ci[key], ratio, f"down more than {th.count_tolerance:.0%}")
                )
    if bi.get("solved") is True and ci.get("solved") is False:
        worse.append(
            Finding(name, "solved", True, False, None, "no longer solves the problem (suite's rule)")
        )
    elif bi.get("solved") is False and ci.get("solved") is True:
        better.append(Finding(name, "solved", False, True, None, "solves the problem now"))
    if bi.get("converged") is True and ci.get("converged") is False:
        worse.append(
            Finding(name, "converged", True, False, None, f"no longer converges: {ci.get('status', '')}")
        )
    elif bi.get("converged") is False and ci.get("converged") is True:
        better.append(Finding(name, "converged", False, True, None, "converges now"))
    for key in ("grad_inf_norm", "final_loss"):
        b, c = bi.get(key, "absent"), ci.get(key, "absent")
        if b == "absent" or c == "absent":
            continue
        if b is not None and c is None:  # None is how a NaN/inf is stored
            worse.append(Finding(name, key, b, c, None, "became NaN/inf"))
            continue
        if b is None or c is None:
            continue
        b_eff, c_eff = max(abs(b), th.value_floor), max(abs(c), th.value_floor)
        ratio = c_eff / b_eff
        if ratio > th.quality_factor:
            worse.append(Finding(name, key, b, c, ratio, f"worse by more than {th.quality_factor:g}x"))
        elif ratio < 1.0 / th.quality_factor:
            better.append(Finding(name, key, b, c, ratio, f"better by more than {th.quality_factor:g}x"))
    return worse, better


def compare_runs(
    baseline: BenchmarkRun, current: BenchmarkRun, thresholds: Thresholds | None = None
) -> Comparison:
    """All regressions and improvements of ``current`` against ``baseline``."""
    th = thresholds or Thresholds()
    common = [name for name in baseline.benchmarks if name in current.benchmarks]
    if not common:
        raise DataError(f"{baseline.path} and {current.path} have no benchmark in common; nothing to compare")
    result = Comparison(baseline, current, th, compared=len(common))
    result.missing = [n for n in baseline.benchmarks if n not in current.benchmarks]
    result.new = [n for n in current.benchmarks if n not in baseline.benchmarks]
    result.time_compared = baseline.machine() == current.machine()
    for name in common:
        base, cur = baseline.benchmarks[name], current.benchmarks[name]
        changes = [instruction_change(name, base, cur, th)]
        if result.time_compared:
            changes.append(time_change(name, base, cur, th))
        if all("instructions" in (b.get("extra_info") or {}) for b in (base, cur)):
            result.instructions_compared += 1
        for change in changes:
            if change is not None:
                slower = change.ratio is not None and change.ratio > 1
                (result.regressions if slower else result.improvements).append(change)
        worse, better = _quality_changes(name, base, cur, th)
        result.regressions.extend(worse)
        result.improvements.extend(better)
    return result


# ------------------------------------------------------------------ report


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "NaN/inf"
    if kind == "time":
        return f"{value * 1e3:.3f} ms" if value < 1 else f"{value:.3f} s"
    if kind == "instructions":
        return f"{value / 1e6:.3f} M"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _table(findings: list[Finding], with_confirmation: bool = False) -> list[str]:
    head = "| benchmark | signal | baseline | current | ratio | noise (base / current) | rule |"
    sep = "|---|---|---|---|---|---|---|"
    if with_confirmation:
        head = head[:-1] + "| confirmation |"
        sep += "---|"
    lines = [head, sep]
    for f in findings:
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        row = (
            f"| `{f.benchmark}` | {f.kind} | {_fmt(f.baseline, f.kind)} | {_fmt(f.current, f.kind)} "
            f"| {ratio} | {f.noise or '-'} | {f.rule} |"
        )
        if with_confirmation:
            row += f" {f.confirmation or '-'} |"
        lines.append(row)
    return lines


def _run_label(run: BenchmarkRun) -> str:
    commit = run.commit_info.get("id")
    short = commit[:10] if isinstance(commit, str) else "unknown commit"
    dirty = " (dirty)" if run.commit_info.get("dirty") else ""
    return f"`{run.path}`: {short}{dirty}, {run.datetime or 'unknown time'}"


def version_changes(baseline: BenchmarkRun, current: BenchmarkRun) -> list[str]:
    b, c = baseline.versions(), current.versions()
    changes = [f"{k} {b.get(k)} -> {c.get(k)}" for k in sorted(set(b) | set(c)) if b.get(k) != c.get(k)]
    bp, cp = baseline.machine_info.get("python_version"), current.machine_info.get("python_version")
    if bp != cp:
        changes.append(f"python {bp} -> {cp}")
    return changes


def _pin_text(pinning: Any) -> str:
    if not isinstance(pinning, dict):
        return "unknown"
    if not pinning.get("pinned"):
        return "not pinned"
    text = f"CPU {pinning['cpus'][0]} of {pinning.get('cpus_before', '?')}"
    return text + (" (after JAX started)" if pinning.get("after_jax_init") else "")


def render_report(cmp: Comparison) -> str:
    """The Markdown report: verdict, regressions, improvements, machines and versions."""
    lines = ["# Benchmark regression check", ""]
    changes = version_changes(cmp.baseline, cmp.current)
    if changes:
        lines += [f"**Library versions changed between the runs:** {', '.join(changes)}.", ""]
    th = cmp.thresholds
    verdict = f"**{len(cmp.regressions)} regression(s)**" if cmp.regressions else "**No regressions.**"
    if cmp.regressions:
        fired = sorted({f.kind for f in cmp.regressions})
        verdict += f" Signals that fired: {', '.join(fired)}."
    if cmp.instructions_compared:
        instr = (
            f"instructions (callgrind) compared for {cmp.instructions_compared}, threshold "
            f"max({th.instructions:.0%}, {th.instructions_spread_factor:g} x the repeat spread); "
        )
    else:
        instr = "no instruction counts in both files (run perf with --perf-instructions); "
    if cmp.time_compared:
        time_text = f"wall time: threshold {th.threshold:.0%} and outside the noise (alpha={th.alpha:g}); "
    else:
        time_text = "wall time NOT compared (different machines, see below); "
    lines += [
        f"{verdict} {cmp.compared} benchmark(s) compared; {instr}{time_text}"
        f"counts +{th.count_tolerance:.0%}, norms/losses {th.quality_factor:g}x.",
        "",
        f"- baseline: {_run_label(cmp.baseline)}",
        f"- current: {_run_label(cmp.current)}",
        "",
        "## Regressions",
        "",
    ]
    lines += [f"{note}" for note in cmp.confirm_notes] + ([""] if cmp.confirm_notes else [])
    confirmed = any(f.confirmation for f in cmp.regressions + cmp.unconfirmed)
    lines += _table(cmp.regressions, confirmed) if cmp.regressions else ["None."]
    if cmp.unconfirmed:
        lines += ["", "## Flagged but not reproduced on re-run (not alerted)", ""]
        lines += _table(cmp.unconfirmed, True)
    lines += ["", "## Improvements", ""]
    lines += _table(cmp.improvements) if cmp.improvements else ["None."]
    if cmp.missing:
        lines += ["", "## Missing from the current run", ""] + [f"- `{n}`" for n in cmp.missing]
    if cmp.new:
        lines += ["", "## New in the current run", ""] + [f"- `{n}`" for n in cmp.new]
    lines += ["", "## Machines and versions", ""]
    if not cmp.time_compared:
        lines += [
            f"The runs come from different machines ({cmp.baseline.machine()} vs {cmp.current.machine()}): "
            "their wall times say nothing about each other and were not compared; instruction counts "
            "and exact figures were.",
            "",
        ]
    lines += ["| | baseline | current |", "|---|---|---|"]
    bm, cm = cmp.baseline.machine_info, cmp.current.machine_info
    rows = [
        ("node", bm.get("node"), cm.get("node")),
        ("cpu", (bm.get("cpu") or {}).get("brand_raw"), (cm.get("cpu") or {}).get("brand_raw")),
        ("python", bm.get("python_version"), cm.get("python_version")),
        ("pinning", _pin_text(cmp.baseline.pinning()), _pin_text(cmp.current.pinning())),
    ]
    bv, cv = cmp.baseline.versions(), cmp.current.versions()
    rows += [(k, bv.get(k), cv.get(k)) for k in sorted(set(bv) | set(cv))]
    lines += [f"| {k} | {b} | {c} |" for k, b, c in rows]
    return "\n".join(lines) + "\n"
