"""The instruction-count rules of the gate, and what decides whether a signal may be compared.

* a count that is missing or not a finite positive number on either side is a finding
  ("instructions not measured: <reason>"), never a pass;
* the limit comes from the **baseline's** repeat spread (``Thresholds.instruction_limit``:
  a few times it, floored and capped), so a change that makes counts noisy cannot widen
  its own band; a current spread beyond ``Thresholds.spread_limit`` is a finding of its own;
* the thread-pool share subtracted from the compared figure (see
  :data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`) is compared too: a rise beyond
  its band (capped, so a noisy baseline cannot open it wide) is a finding, and a share that
  is missing, null or not a number on either side is a finding of its own;
* counts are comparable only when valgrind's version, the tool flags, the architecture,
  the OS/glibc image (of the machines that counted) and the counting engine are the same, read
  for each benchmark (:func:`benchmark_environment_difference`); another engine is a one-time
  step, not an alert (:func:`engine_step`);
* wall time says nothing when the commit, the library versions and the machine are all the
  same (:func:`nothing_changed`).
"""

from __future__ import annotations

import math
from typing import Any

from lbfgs_impl.tracking.runs import BenchmarkRun, Finding, Thresholds, apart, is_count, percent

#: What must match for two counts to be comparable, as recorded in ``extra_info["instructions_meta"]``.
ENVIRONMENT_KEYS = (
    ("engine", "counting engine"),  # first: another engine is a step, whatever else changed with it
    ("valgrind", "valgrind"),
    ("valgrind_flags", "tool flags"),
    ("arch", "architecture"),
    ("os_image", "OS/glibc image"),
)

#: The engine of counts recorded before the engine was (each count compiled in the counted process).
ENGINE_BEFORE_RECORDED = "in-valgrind"


def engine_step(mismatch: str | None) -> bool:
    """Whether a :func:`benchmark_environment_difference` is a change of counting engine: a one-time
    step in the counts, said once and never alerted (re-count the baseline to compare again)."""
    return bool(mismatch) and mismatch.startswith("counting engine ")  # type: ignore[union-attr]


def has_instruction_phase(info: dict[str, Any]) -> bool:
    """Whether a benchmark's ``extra_info`` shows the instruction phase was asked for."""
    return "instructions" in info or "instructions_meta" in info


def why_missing(info: dict[str, Any]) -> str:
    """The reason one side has no usable count, from what it recorded."""
    meta = info.get("instructions_meta") or {}
    if meta.get("skipped"):
        return f"skipped: {meta['skipped']}"
    errors = info.get("instructions_errors")
    if errors:
        return str(errors[0])
    if "instructions" not in info:
        return "no instruction count recorded"
    value = info["instructions"]
    return "count is null" if value is None else f"non-numeric count {value!r}"


def _share_text(info: dict[str, Any]) -> str:
    total, share = info.get("instructions_total"), info.get("instructions_thread_pool_share")
    if not is_count(total) or not isinstance(share, (int, float)):
        return "total/thread pool not recorded"
    return f"total {total / 1e6:.3f} M, thread pool {share:.1%}"


def _is_spread(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


def _spread_unusable(name: str, bi: dict[str, Any], ci: dict[str, Any]) -> Finding | None:
    """A repeat spread recorded as NaN/inf/text/negative on either side (absent is 0: older files)."""
    spreads = [(side, info.get("instructions_spread")) for side, info in (("baseline", bi), ("current", ci))]
    bad = [f"{side}: repeat spread {v!r}" for side, v in spreads if v is not None and not _is_spread(v)]
    if not bad:
        return None
    rule = "instructions not measured: " + "; ".join(bad) + " (not a finite number >= 0)"
    b, c = bi.get("instructions"), ci.get("instructions")
    return Finding(name, "instructions not measured", b, c, None, rule)


def is_share(x: Any) -> bool:
    """A usable thread-pool share: a finite number in [0, 1] (not a bool, not None/NaN/text)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and 0.0 <= x <= 1.0


def share_missing(info: dict[str, Any]) -> str:
    if "instructions_thread_pool_share" not in info:
        return "not recorded"
    value = info["instructions_thread_pool_share"]
    return "null" if value is None else f"not a share: {value!r}"


def _share_range(info: dict[str, Any]) -> float:
    samples = [s for s in info.get("instructions_thread_pool_share_samples") or [] if is_share(s)]
    return max(samples) - min(samples) if samples else 0.0


def instruction_findings(
    name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds
) -> tuple[list[Finding], list[Finding], bool]:
    """Instruction findings for one benchmark: (regressions, improvements, compared numerically)."""
    bi, ci = base.get("extra_info") or {}, cur.get("extra_info") or {}
    if not has_instruction_phase(bi):  # a signal the baseline never had: nothing to compare yet
        return [], [], False
    b, c = bi.get("instructions"), ci.get("instructions")
    if not (is_count(b) and is_count(c)):
        sides = [f"baseline: {why_missing(bi)}"] if not is_count(b) else []
        sides += [f"current: {why_missing(ci)}"] if not is_count(c) else []
        rule = "instructions not measured: " + "; ".join(sides)
        return [Finding(name, "instructions not measured", b, c, None, rule)], [], False
    if unusable := _spread_unusable(name, bi, ci):
        return [unusable], [], False
    bs, cs = float(bi.get("instructions_spread") or 0.0), float(ci.get("instructions_spread") or 0.0)
    limit, ratio = th.instruction_limit(bs), c / b
    noise = f"spread {bs:.2%} / {cs:.2%}; {_share_text(bi)} / {_share_text(ci)}"
    change, shown_limit = apart(abs(ratio - 1), limit)
    how = (
        f"limit {shown_limit} = {th.instructions_spread_factor:g} x the baseline's spread, "
        f"at least {percent(th.instructions)}, at most {percent(th.instructions_cap)}"
    )
    worse: list[Finding] = []
    better: list[Finding] = []
    if ratio > 1.0 + limit:
        worse.append(Finding(name, "instructions", b, c, ratio, f"instructions +{change} > {how}", noise))
    elif ratio < 1.0 - limit:
        better.append(Finding(name, "instructions", b, c, ratio, f"instructions -{change} < -{how}", noise))
    if cs > (spread_limit := th.spread_limit(bs)):
        shown, shown_limit = apart(cs, spread_limit, 2)
        rule = (
            f"repeat spread {shown} > {shown_limit} = max({percent(th.spread_floor)}, "
            f"{th.spread_rise_factor:g} x the baseline's {bs:.2%}): the counts became noisy"
        )
        worse.append(Finding(name, "instruction spread", bs, cs, None, rule, noise))
    bsh, csh = bi.get("instructions_thread_pool_share"), ci.get("instructions_thread_pool_share")
    if not (is_share(bsh) and is_share(csh)):
        pairs = (("baseline", bi, bsh), ("current", ci, csh))
        sides = [f"{side}: {share_missing(info)}" for side, info, v in pairs if not is_share(v)]
        rule = (
            "thread-pool share not measured ("
            + "; ".join(sides)
            + "): the work XLA's scheduler does is unseen"
        )
        worse.append(Finding(name, "thread-pool share not measured", bsh, csh, None, rule, noise))
        return worse, better, True
    band = th.share_limit(_share_range(bi))
    if csh - bsh > band:
        rule = (
            f"thread-pool share {bsh:.1%} -> {csh:.1%}, up more than its band {band:.1%} "
            f"(max({percent(th.share_band)}, 3 x the baseline's per-process range), at most "
            f"{percent(th.share_band_cap)}): work moved into XLA's scheduler, where the compared figure "
            "does not see it"
        )
        worse.append(Finding(name, "thread-pool share", bsh, csh, None, rule, noise))
    return worse, better, True


def counts_environment(run: BenchmarkRun) -> dict[str, Any]:
    """What the run's counts were taken under, for the report: one value per key, or all values seen."""
    seen: dict[str, list[str]] = {}
    for bench in run.benchmarks.values():
        meta = (bench.get("extra_info") or {}).get("instructions_meta")
        if isinstance(meta, dict):
            for key, _ in ENVIRONMENT_KEYS:
                value = meta.get(key)
                text = " ".join(value) if isinstance(value, list) else value
                if text and text not in seen.setdefault(key, []):
                    seen[key].append(text)
    return {key: " / ".join(values) for key, values in seen.items()}


def _environment(info: dict[str, Any], run: BenchmarkRun) -> dict[str, Any]:
    """One benchmark's counting environment; the architecture falls back on the run's ``machine_info``."""
    meta = info.get("instructions_meta")
    env = dict(meta) if isinstance(meta, dict) else {}
    if not env.get("arch") and run.machine_info.get("machine"):
        env["arch"] = run.machine_info["machine"]
        env["arch_from_machine_info"] = True
    return env


def benchmark_environment_difference(
    name: str, baseline: BenchmarkRun, current: BenchmarkRun, base_info: dict[str, Any] | None = None
) -> tuple[str | None, list[str]]:
    """Why one benchmark's counts are not comparable (``"valgrind X vs Y"``), or ``(None, notes)``.

    valgrind's version and flags must be recorded by both sides and equal; so must the
    architecture (read from ``machine_info`` when a side predates the field) and the OS/glibc
    image where both sides record it (the notes say when it was not checked).
    """
    bi = base_info if base_info is not None else baseline.benchmarks[name].get("extra_info") or {}
    b, c = _environment(bi, baseline), _environment(current.benchmarks[name].get("extra_info") or {}, current)
    notes: list[str] = []
    for key, label in ENVIRONMENT_KEYS:
        bv, cv = b.get(key), c.get(key)
        if key == "engine":  # counts recorded before the engine was: each compiled where it was counted
            bv, cv = bv or ENGINE_BEFORE_RECORDED, cv or ENGINE_BEFORE_RECORDED
        if key == "os_image" and (bv is None or cv is None):
            notes.append(
                f"{label} not recorded by the {'baseline' if bv is None else 'current run'}; not checked"
            )
            continue
        if not bv or not cv:
            return f"{label} not recorded by the {'baseline' if not bv else 'current run'}", notes
        if bv != cv:
            show = (
                (lambda v: " ".join(v) if isinstance(v, list) else str(v)) if key == "valgrind_flags" else str
            )
            return f"{label} {show(bv)} vs {show(cv)}", notes
    return None, notes


def nothing_changed(time_base: BenchmarkRun, current: BenchmarkRun) -> str | None:
    """Why a time difference between these runs can only be noise, or None when something changed."""
    commit = time_base.commit()
    if commit is None or commit != current.commit():
        return None
    if time_base.versions() != current.versions():
        return None
    if time_base.machine_info.get("python_version") != current.machine_info.get("python_version"):
        return None
    if time_base.machine() != current.machine():
        return None
    return (
        f"nothing changed: both runs are of commit {commit[:10]} (clean tree), with the same library "
        f"versions and Python, on the same machine ({current.machine()}); a wall-time difference between "
        "them is the machine's noise, reported here and never alerted"
    )
