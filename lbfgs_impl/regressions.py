"""Noise-aware comparison of two pytest-benchmark result files.

A benchmark's **time** regresses only when both hold:

1. its median got slower by more than ``threshold`` (default 10%), and
2. the change stands out of the measured noise: with raw samples in both
   files (``--benchmark-save-data``) a one-sided Mann-Whitney U test says the
   current samples are larger (p < ``alpha``), or, with fewer than 4 samples a
   side, every current sample is slower than every baseline sample; without
   raw samples, the interquartile ranges no longer overlap (current q1 > baseline q3).

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


def _time_change(name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds) -> Finding | None:
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
    for name in common:
        base, cur = baseline.benchmarks[name], current.benchmarks[name]
        change = _time_change(name, base, cur, th)
        if change is not None:
            (result.regressions if change.ratio and change.ratio > 1 else result.improvements).append(change)
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
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _table(findings: list[Finding], with_confirmation: bool = False) -> list[str]:
    head = "| benchmark | what | baseline | current | ratio | noise (IQR base / current) | rule |"
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
    lines += [
        f"{verdict} {cmp.compared} benchmark(s) compared; time threshold {th.threshold:.0%} "
        f"(and outside the noise, alpha={th.alpha:g}), counts +{th.count_tolerance:.0%}, "
        f"norms/losses {th.quality_factor:g}x.",
        "",
        f"- baseline: {_run_label(cmp.baseline)}",
        f"- current: {_run_label(cmp.current)}",
        "",
        "## Regressions",
        "",
    ]
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
    lines += ["", "## Machines and versions", "", "| | baseline | current |", "|---|---|---|"]
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
