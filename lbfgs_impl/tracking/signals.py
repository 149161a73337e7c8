"""The instruction-count rules of the gate, and what decides whether a signal may be compared.

* a count that is missing or not a finite positive number on either side is a finding
  ("instructions not measured: <reason>"), never a pass;
* the limit comes from the **baseline's** repeat spread (``Thresholds.instruction_limit``:
  a few times it, floored and capped), so a change that makes counts noisy cannot widen
  its own band; a current spread beyond ``Thresholds.spread_limit`` is a finding of its own;
* the thread-pool share subtracted from the compared figure (see
  :data:`lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS`) is compared too: a rise beyond
  its band is a finding;
* counts are comparable only when valgrind's version, the tool flags, the architecture and
  the OS/glibc image are the same (:func:`environment_difference`);
* wall time says nothing when the commit, the library versions and the machine are all the
  same (:func:`nothing_changed`).
"""

from __future__ import annotations

from typing import Any

from lbfgs_impl.tracking.runs import BenchmarkRun, Finding, Thresholds, is_count

#: What must match for two counts to be comparable, as recorded in ``extra_info["instructions_meta"]``.
ENVIRONMENT_KEYS = (
    ("valgrind", "valgrind"),
    ("valgrind_flags", "tool flags"),
    ("arch", "architecture"),
    ("os_image", "OS/glibc image"),
)


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


def _share_range(info: dict[str, Any]) -> float:
    samples = [
        s for s in info.get("instructions_thread_pool_share_samples") or [] if isinstance(s, (int, float))
    ]
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
    bs, cs = float(bi.get("instructions_spread") or 0.0), float(ci.get("instructions_spread") or 0.0)
    limit, ratio = th.instruction_limit(bs), c / b
    noise = f"spread {bs:.2%} / {cs:.2%}; {_share_text(bi)} / {_share_text(ci)}"
    how = (
        f"limit {limit:.1%} = {th.instructions_spread_factor:g} x the baseline's spread, "
        f"at least {th.instructions:.0%}, at most {th.instructions_cap:.0%}"
    )
    worse: list[Finding] = []
    better: list[Finding] = []
    if ratio > 1.0 + limit:
        worse.append(
            Finding(name, "instructions", b, c, ratio, f"instructions +{ratio - 1:.1%} > {how}", noise)
        )
    elif ratio < 1.0 - limit:
        better.append(
            Finding(name, "instructions", b, c, ratio, f"instructions {ratio - 1:.1%} < -{how}", noise)
        )
    if cs > th.spread_limit(bs):
        rule = (
            f"repeat spread {cs:.2%} > max({th.spread_floor:.0%}, {th.spread_rise_factor:g} x the "
            f"baseline's {bs:.2%}): the counts became noisy"
        )
        worse.append(Finding(name, "instruction spread", bs, cs, None, rule, noise))
    bsh, csh = bi.get("instructions_thread_pool_share"), ci.get("instructions_thread_pool_share")
    if isinstance(bsh, (int, float)) and isinstance(csh, (int, float)):
        band = max(th.share_band, 3 * _share_range(bi))
        if csh - bsh > band:
            rule = (
                f"thread-pool share {bsh:.1%} -> {csh:.1%}, up more than its band {band:.1%} "
                f"(max({th.share_band:.0%}, 3 x the baseline's per-process range)): work moved into "
                "XLA's scheduler, where the compared figure does not see it"
            )
            worse.append(Finding(name, "thread-pool share", bsh, csh, None, rule, noise))
    return worse, better, True


def counts_environment(run: BenchmarkRun) -> dict[str, Any]:
    """The ``instructions_meta`` of the first benchmark that has one (empty when none)."""
    for bench in run.benchmarks.values():
        meta = (bench.get("extra_info") or {}).get("instructions_meta")
        if isinstance(meta, dict) and meta.get("valgrind"):
            return meta
    return {}


def environment_difference(baseline: BenchmarkRun, current: BenchmarkRun) -> tuple[str | None, list[str]]:
    """``("valgrind X vs Y", notes)`` when the two runs' counts are not comparable, else ``(None, notes)``.

    valgrind's version and flags must be recorded and equal on both sides; the
    architecture and OS/glibc image must be equal where both sides record them
    (runs from before they were recorded compare on valgrind alone, and the notes say so).
    """
    b, c = counts_environment(baseline), counts_environment(current)
    if not b or not c:
        return None, []
    notes: list[str] = []
    for key, label in ENVIRONMENT_KEYS:
        bv, cv = b.get(key), c.get(key)
        if key in ("arch", "os_image") and (bv is None or cv is None):
            notes.append(
                f"{label} not recorded by the {'baseline' if bv is None else 'current run'}; not checked"
            )
            continue
        if bv != cv:
            show = (lambda v: " ".join(v)) if key == "valgrind_flags" else str
            return f"{label} {show(bv) if bv else '?'} vs {show(cv) if cv else '?'}", notes
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
