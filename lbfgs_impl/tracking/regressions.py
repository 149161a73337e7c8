"""Noise-aware comparison of two pytest-benchmark result files.

A benchmark's **time** regresses only when both hold:

1. its median got slower by more than ``threshold`` (default 10%), and
2. the change stands out of the measured noise: with raw samples in both
   files (``--benchmark-save-data``) a one-sided Mann-Whitney U test says the
   current samples are larger (p < ``alpha``), or, with fewer than 4 samples a
   side, every current sample is slower than every baseline sample; without
   raw samples, the interquartile ranges no longer overlap (current q1 > baseline q3).

**Instructions** (``extra_info["instructions"]``, from ``pytest perf --perf-instructions``)
are counted under callgrind and do not depend on the machine's load or model; their
rules are in :mod:`lbfgs_impl.tracking.signals` (a missing count is a finding, the
limit comes from the baseline's spread, the thread-pool share has its own band, and
counts from another valgrind/flags/architecture/OS image are not compared).

**Wall time** is compared only against a run from the same machine (CPU model,
logical CPU count and architecture; ``time_baseline`` when the nightly keeps one
per machine). When both runs are the same clean commit with the same library
versions on the same machine, a time finding is noise and is reported as such;
a time finding whose instruction count was compared and did not move
(``Finding.time_only``) alerts only after a decisive A/B confirmation
(:mod:`lbfgs_impl.tracking.confirm`).

**Quality** is exact and noise-free (from each benchmark's ``extra_info``):
iterations or f+g evaluations up by more than ``count_tolerance``, ``converged``
turned false, final gradient norm or loss worse by more than ``quality_factor``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import scipy.stats

from lbfgs_impl.tracking.quality import quality_changes
from lbfgs_impl.tracking.report import render_report, version_changes  # noqa: F401  (re-exported)
from lbfgs_impl.tracking.runs import (  # noqa: F401  (re-exported: the gate's public names)
    BenchmarkRun,
    Comparison,
    DataError,
    Finding,
    Thresholds,
    is_count,
    load_run,
    percent,
)
from lbfgs_impl.tracking.signals import (
    benchmark_environment_difference,
    engine_step,
    has_instruction_phase,
    instruction_findings,
    nothing_changed,
)

#: Below this many samples a side, a one-sided Mann-Whitney test cannot reach p < 0.05
#: (3 vs 3 gives at best p = 0.05), so complete separation is required instead.
MIN_SAMPLES_FOR_RANK_TEST = 4


def _noise(stats: dict[str, Any]) -> float:
    """Relative interquartile range of one benchmark's samples."""
    median = stats.get("median") or 0.0
    return (stats.get("iqr") or 0.0) / median if median else math.inf


def _time_value(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


def time_unusable(base: dict[str, Any], cur: dict[str, Any]) -> str | None:
    """Why the figures :func:`time_change` would read (medians; samples, or else quartiles) are unusable."""
    sides = (("baseline", base["stats"]), ("current", cur["stats"]))
    for side, stats in sides:
        median = stats.get("median")
        if not (_time_value(median) and median > 0):
            return f"the {side}'s median is {median!r}, not a finite positive number"
    if all(stats.get("data") for _, stats in sides):
        for side, stats in sides:
            data = stats["data"]
            if not isinstance(data, list) or not all(_time_value(x) for x in data):
                return f"a raw sample of the {side} is not a finite number"
        return None
    for side, stats in sides:
        if not all(_time_value(stats.get(q)) for q in ("q1", "q3")):
            return f"no raw samples, and the {side}'s quartiles are {stats.get('q1')!r}/{stats.get('q3')!r}"
    return None


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
    """The instruction-count finding alone (rise or fall beyond the limit), for studies; ``None`` if none."""
    worse, better, _ = instruction_findings(name, base, cur, th)
    return next((f for f in worse + better if f.kind == "instructions"), None)


def _time_against(
    time_base: BenchmarkRun | None, baseline: BenchmarkRun, current: BenchmarkRun
) -> tuple[BenchmarkRun | None, str]:
    """The run wall time is compared with, and the report's line on it."""
    base = time_base or baseline
    if base.machine() != current.machine():
        why = (
            f"not compared: no wall-time baseline for this machine ({current.machine()}) yet; "
            f"the baseline ran on {base.machine()}"
        )
        return None, why
    source = "" if time_base is None else f" (the wall-time baseline of this machine, `{time_base.path}`)"
    return base, f"compared against a run on the same machine{source}"


def compare_runs(
    baseline: BenchmarkRun,
    current: BenchmarkRun,
    thresholds: Thresholds | None = None,
    *,
    time_baseline: BenchmarkRun | None = None,
    instruction_baseline: BenchmarkRun | None = None,
    allow_missing: bool = False,
) -> Comparison:
    """All findings of ``current`` against ``baseline``.

    A benchmark of the baseline that tonight's run lacks had none of its signals compared: it is
    a regression (``"not run"``) unless ``allow_missing`` accepts its removal (then only listed).

    Args:
      baseline: the last good run (quality figures, and instructions and time unless given below).
      current: tonight's run.
      thresholds: the limits (default :class:`Thresholds`).
      time_baseline: the last good run on this machine, for wall time (default: ``baseline``,
        compared only when it ran on the same machine).
      instruction_baseline: the baseline commit re-counted in tonight's environment
        (default: ``baseline``'s own counts).
    """
    # long function: every signal's comparison in the order the report lists them.
    th = thresholds or Thresholds()
    common = [name for name in baseline.benchmarks if name in current.benchmarks]
    if not common:
        raise DataError(f"{baseline.path} and {current.path} have no benchmark in common; nothing to compare")
    result = Comparison(baseline, current, th, compared=len(common))
    result.missing = [n for n in baseline.benchmarks if n not in current.benchmarks]
    result.missing_allowed = allow_missing
    if not allow_missing:
        result.regressions.extend(
            Finding(name, "not run", None, None, None, MISSING_RULE) for name in result.missing
        )
    result.new = [n for n in current.benchmarks if n not in baseline.benchmarks]
    tbase, time_line = _time_against(time_baseline, baseline, current)
    result.time_compared, result.time_baseline = tbase is not None, tbase
    ibase = instruction_baseline or baseline
    result.instruction_baseline = instruction_baseline
    instructions_stable: set[str] = set()
    expected, mismatches, env_notes, no_time, no_figure = 0, [], set(), [], []
    for name in common:
        base, cur = baseline.benchmarks[name], current.benchmarks[name]
        worse, better, numeric = _instructions(name, baseline, ibase, current, th, mismatches, env_notes)
        expected += bool(worse or better or numeric)
        if numeric:
            result.instructions_compared += 1
            if not worse and not better:
                instructions_stable.add(name)
        unusable = time_unusable(tbase.benchmarks[name], cur) if tbase and name in tbase.benchmarks else None
        if unusable:
            worse.append(Finding(name, "time not measured", None, None, None, f"not compared: {unusable}"))
            no_figure.append(name)
        elif tbase is not None and name in tbase.benchmarks:
            change = time_change(name, tbase.benchmarks[name], cur, th)
            if change is not None:
                change.time_only = name in instructions_stable
                (worse if change.ratio > 1 else better).append(change)
        elif tbase is not None:
            no_time.append(name)
        q_worse, q_better, q_compared = quality_changes(name, base, cur, th)
        result.quality_compared += q_compared
        result.regressions.extend(worse + q_worse)
        result.improvements.extend(better + q_better)
    result.environment_mismatch = "; ".join(dict.fromkeys(mismatches)) or None
    if tbase is not None:
        timed = len(common) - len(no_time) - len(no_figure)
        time_line += f"; compared for {timed} of {len(common)} benchmark(s)"
    if tbase is not None and no_time:
        names = ", ".join(f"`{n}`" for n in no_time)
        time_line += f", not compared for {len(no_time)} absent from the wall-time baseline: {names}"
    if no_figure:
        time_line += f", not compared for {len(no_figure)} whose figures are unusable (see the findings)"
    _classify_noise(result, tbase)
    result.signals = _signals(result, expected, mismatches, time_line, sorted(env_notes))
    if Path(baseline.path).resolve() == Path(current.path).resolve():  # a run checked against itself
        first = "the run checked against itself: nothing to compare with"
        result.signals = [
            (name, how if name == "instructions" and not result.instructions_compared else first)
            for name, how in result.signals
        ]
        if result.instructions_compared:
            present = f"every count present ({result.instructions_compared}); {first}"
            result.signals[0] = ("instructions", present)
    return result


def _instructions(name, baseline, ibase, current, th, mismatches, env_notes):
    """One benchmark's instruction findings, from the baseline's counts or the re-count's (never a mix)."""
    base = baseline.benchmarks[name]
    if ibase is not baseline and name not in ibase.benchmarks:
        if not has_instruction_phase(base.get("extra_info") or {}):
            return [], [], False
        rule = "not compared: the baseline's re-count has no result for it (its old counts are not used)"
        return [Finding(name, "instructions not compared", None, None, None, rule)], [], False
    ib = ibase.benchmarks[name]
    info = ib.get("extra_info") or {}
    if has_instruction_phase(info) and is_count(info.get("instructions")):
        mismatch, notes = benchmark_environment_difference(name, ibase, current, info)
        env_notes.update(notes)
        if mismatch and is_count((current.benchmarks[name].get("extra_info") or {}).get("instructions")):
            mismatches.append(mismatch)
            if engine_step(mismatch):  # another engine: a step in the counts, said once, not alerted
                return [], [], False
            source = " (the baseline's re-count)" if ibase is not baseline else ""
            rule = f"not compared ({mismatch}){source}"
            return [Finding(name, "instructions not compared", None, None, None, rule)], [], False
    return instruction_findings(name, ib, current.benchmarks[name], th)


MISSING_RULE = (
    "in the baseline, absent from the current run: none of its signals compared "
    "(a removal on purpose: --allow-missing)"
)


def _classify_noise(result: Comparison, tbase: BenchmarkRun | None) -> None:
    """Time findings between runs where nothing changed are noise: moved out of the alerts."""
    why = nothing_changed(tbase, result.current) if tbase is not None else None
    if why is None:
        return
    for bucket in (result.regressions, result.improvements):
        for f in [f for f in bucket if f.kind == "time"]:
            bucket.remove(f)
            f.confirmation = why
            result.noise.append(f)


def hold_time_only(result: Comparison) -> None:
    """Without a confirmation run, time-only findings are listed but not alerted."""
    for f in [f for f in result.regressions if f.kind == "time" and f.time_only]:
        result.regressions.remove(f)
        f.confirmation = (
            "time only (its instruction count did not move): alerts only on a decisive A/B "
            "confirmation (--confirm); none was run"
        )
        result.unconfirmed.append(f)


def _signals(
    result: Comparison, expected: int, mismatches: list[str], time_line: str, env_notes: list[str]
) -> list[tuple[str, str]]:
    """The report's signal lines; ``mismatches`` has one entry a benchmark whose counts' environment
    differs (an engine step is not in ``expected``: it has no finding)."""
    th = result.thresholds
    mismatched = sum(f.kind == "instructions not compared" for f in result.regressions)
    steps = [m for m in mismatches if engine_step(m)]
    step_text = "; ".join(dict.fromkeys(steps))
    other_text = "; ".join(dict.fromkeys(m for m in mismatches if not engine_step(m)))
    if steps and not result.instructions_compared:
        instr = (
            f"engine changed ({step_text}): counts not compared for {len(steps)} "
            "benchmark(s), not alerted; a one-time step in the counts (re-count the baseline to compare)"
        )
        if expected:  # the others are findings: another environment, or a count missing
            why = f" ({other_text})" if other_text else ""
            instr += f"; not compared for {expected} more{why} (see the findings)"
    elif other_text and not result.instructions_compared:
        instr = f"not compared ({other_text}) for {expected} benchmark(s)"
    elif result.instructions_compared:
        source = " (the baseline commit re-counted tonight)" if result.instruction_baseline else ""
        counted = expected + len(steps)  # with the engine-stepped ones, as with any not compared
        instr = (
            f"compared for {result.instructions_compared} of {counted} benchmark(s){source}; limit "
            f"{th.instructions_spread_factor:g} x the baseline's repeat spread, "
            f"at least {percent(th.instructions)}, "
            f"at most {percent(th.instructions_cap)}; spread rise beyond max({percent(th.spread_floor)}, "
            f"{th.spread_rise_factor:g} x the baseline's); thread-pool share band {percent(th.share_band)} "
            f"(3 x the baseline's range when larger, at most {percent(th.share_band_cap)})"
        )
        if mismatched:
            instr += f"; not compared for {mismatched} (see the findings)"
        if steps:
            instr += f"; not compared for {len(steps)} counted by another engine ({step_text}), not alerted"
    elif expected:
        instr = f"not compared: counts missing for {expected} benchmark(s) (see the findings)"
    else:
        instr = "not compared: the baseline has no instruction counts (run perf with --perf-instructions)"
    if env_notes:
        instr += "; " + "; ".join(env_notes)
    if result.time_compared:
        time_line += f"; threshold {percent(th.threshold)} and outside the noise (alpha={th.alpha:g})"
    quality = (
        f"compared for {result.quality_compared} of {result.compared} benchmark(s): "
        f"counts +{percent(th.count_tolerance)}, norms/losses {th.quality_factor:g}x"
    )
    if result.quality_compared < result.compared:
        quality = (
            f"not compared for {result.compared - result.quality_compared} of {result.compared} "
            "benchmark(s) (see the findings); " + quality
        )
    if result.missing:
        quality += f"; not compared for {len(result.missing)} benchmark(s) missing from the current run" + (
            " (accepted: --allow-missing)" if result.missing_allowed else ""
        )
    return [("instructions", instr), ("wall time", time_line), ("quality", quality)]
