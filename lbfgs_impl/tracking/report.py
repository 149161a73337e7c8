"""The Markdown report of one comparison: verdict, signals compared (or why not), findings, machines."""

from __future__ import annotations

from typing import Any

from lbfgs_impl.tracking.runs import BenchmarkRun, Comparison, Finding, short_commit
from lbfgs_impl.tracking.signals import counts_environment


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "none" if kind in ("instructions", "instructions not measured", "not run") else "NaN/inf"
    if kind == "time":
        return f"{value * 1e3:.3f} ms" if value < 1 else f"{value:.3f} s"
    if kind in ("instructions", "instructions not measured") and isinstance(value, (int, float)):
        return f"{value / 1e6:.3f} M"
    if kind in ("instruction spread", "thread-pool share") and isinstance(value, float):
        return f"{value:.2%}"
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
    short = short_commit(commit)
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


def _verdict(cmp: Comparison) -> str:
    worse, missing = cmp.worse(), cmp.not_compared()
    gaps = ""
    if missing:
        kinds = ", ".join(sorted({f.kind for f in missing}))
        gaps = f" **{len(missing)} signal(s) not compared** ({kinds}): this is not a pass."
    if not worse:
        if missing:
            return f"**Not comparable.**{gaps} {cmp.compared} benchmark(s) in common."
        return f"**No regressions.** {cmp.compared} benchmark(s) compared."
    fired = sorted({f.kind for f in worse})
    return (
        f"**{len(worse)} regression(s)** Signals that fired: {', '.join(fired)}.{gaps} "
        f"{cmp.compared} benchmark(s) compared."
    )


def _machine_rows(cmp: Comparison) -> list[str]:
    bm, cm = cmp.baseline.machine_info, cmp.current.machine_info
    be, ce = counts_environment(cmp.instruction_baseline or cmp.baseline), counts_environment(cmp.current)
    rows = [
        ("node", bm.get("node"), cm.get("node")),
        ("cpu", cmp.baseline.machine(), cmp.current.machine()),
        ("python", bm.get("python_version"), cm.get("python_version")),
        ("pinning", _pin_text(cmp.baseline.pinning()), _pin_text(cmp.current.pinning())),
        ("valgrind", be.get("valgrind"), ce.get("valgrind")),
        ("valgrind flags", be.get("valgrind_flags"), ce.get("valgrind_flags")),
        ("counts: arch", be.get("arch"), ce.get("arch")),
        ("counts: OS/glibc image", be.get("os_image"), ce.get("os_image")),
    ]
    if cmp.time_baseline is not None and cmp.time_baseline is not cmp.baseline:
        rows.append(("wall-time baseline", _run_label(cmp.time_baseline), "-"))
    bv, cv = cmp.baseline.versions(), cmp.current.versions()
    rows += [(k, bv.get(k), cv.get(k)) for k in sorted(set(bv) | set(cv))]
    return ["| | baseline | current |", "|---|---|---|"] + [f"| {k} | {b} | {c} |" for k, b, c in rows]


def render_report(cmp: Comparison) -> str:
    """The Markdown report: verdict, signals, regressions, noise, improvements, machines and versions."""
    lines = ["# Benchmark regression check", ""]
    changes = version_changes(cmp.baseline, cmp.current)
    if changes:
        lines += [f"**Library versions changed between the runs:** {', '.join(changes)}.", ""]
    lines += [
        _verdict(cmp),
        "",
        f"- baseline: {_run_label(cmp.baseline)}",
        f"- current: {_run_label(cmp.current)}",
    ]
    lines += ["", "## Signals", "", "| signal | compared? |", "|---|---|"]
    lines += [f"| {name} | {how} |" for name, how in cmp.signals]
    lines += ["", "## Regressions", ""]
    lines += list(cmp.confirm_notes) + ([""] if cmp.confirm_notes else [])
    confirmed = any(f.confirmation for f in cmp.regressions + cmp.unconfirmed)
    lines += _table(cmp.regressions, confirmed) if cmp.regressions else ["None."]
    if cmp.unconfirmed:
        lines += ["", "## Flagged but not confirmed (not alerted)", ""]
        lines += _table(cmp.unconfirmed, True)
    if cmp.noise:
        lines += ["", "## Noise: nothing changed between the runs (not alerted)", ""]
        lines += _table(cmp.noise, True)
    lines += ["", "## Improvements", ""]
    lines += _table(cmp.improvements) if cmp.improvements else ["None."]
    if cmp.missing:
        why = (
            "Accepted as removed (--allow-missing): not compared, not alerted."
            if cmp.missing_allowed
            else 'Each is a regression above ("not run"): none of its signals was compared tonight.'
        )
        lines += ["", "## Missing from the current run", "", why, ""] + [f"- `{n}`" for n in cmp.missing]
    if cmp.new:
        lines += ["", "## New in the current run", ""] + [f"- `{n}`" for n in cmp.new]
    for title, body in cmp.sections:
        lines += ["", f"## {title}", "", *body]
    lines += ["", "## Machines and versions", ""]
    if not cmp.time_compared:
        lines += [
            f"Wall time was not compared: {cmp.current.machine()} has no baseline of its own "
            f"(the baseline ran on {cmp.baseline.machine()}); instruction counts and exact figures were.",
            "",
        ]
    lines += _machine_rows(cmp)
    return "\n".join(lines) + "\n"
