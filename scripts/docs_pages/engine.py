"""The counting engine's cost and counts: CPU seconds per task, where a task's time goes, per solver.

Data: ``docs/data/engine/*.json``, each the output of ``python scripts/engine_timing.py OUT.json``
(one run of the engine on a set of the profile's tasks, with the machine and its load). Without
data the page says so. Every number on the page comes from those files.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from _common import GENERATED_NOTE, load_json, machine, versions, write_text

PAGE = "engine"
HOW = [
    "```bash",
    "nice python scripts/engine_timing.py docs/data/engine/quick.json --grid quick",
    "# a whole profile run: time it from a shell, then record it",
    "mkdir run && cat /proc/loadavg > run/load_before && date -u +%FT%TZ > run/started",
    "/usr/bin/time -v -o run/time.txt lbfgs-bench profile --instructions --scheduler none run/out",
    "cat /proc/loadavg > run/load_after && date -u +%FT%TZ > run/ended",
    "python scripts/record_profile_run.py run/out run docs/data/engine/mgh-profile.json",
    "python scripts/regen_docs.py",
    "```",
]
STEPS = ("build_s", "load_s", "warm_up_s", "counted_s", "result_s")


def _step_medians(results: list[dict[str, Any]]) -> dict[str, float]:
    found: dict[str, list[float]] = {s: [] for s in STEPS}
    for r in results:
        for proc in r.get("processes") or []:
            for step in STEPS:
                value = (proc.get("seconds") or {}).get(step)
                if isinstance(value, (int, float)):
                    found[step].append(value)
    return {s: statistics.median(v) for s, v in found.items() if v}


def _section(name: str, doc: dict[str, Any]) -> list[str]:
    results = doc["results"]
    n, repeats = len(doc["tasks"]), doc["repeats"]
    counted = [r for r in results if r.get("instructions")]
    lines = [
        f"## {name}: {n} task(s) of the {doc['grid']} grid, {repeats} sample(s) each, "
        f"{len(doc['cpus'])} worker(s), scheduler `{doc['scheduler']}`",
        "",
        *([f"Measured by `{doc['command']}`.", ""] if doc.get("command") else []),
        f"On {machine(doc['machine'])}; {versions(doc['machine'])}. Load average (1, 5, 15 min) "
        f"before {', '.join(f'{x:.1f}' for x in doc['load_before'])}, after "
        f"{', '.join(f'{x:.1f}' for x in doc['load_after'])}.",
        "",
        "| wall (s) | CPU of the counting processes (s) | CPU per sample (s) | tasks counted "
        "| tasks with errors |",
        "|---:|---:|---:|---:|---:|",
        f"| {doc['wall_s']:.0f} | {doc['cpu_s']:.0f} | {doc['cpu_s_per_sample']:.2f} | {len(counted)} of {n} "
        f"| {sum(bool(r['errors']) for r in results)} |",
        "",
        "The CPU time includes each worker's start-up (valgrind importing JAX and starting its backend, "
        "the native builder importing JAX) and every native build.",
        "",
    ]
    steps = _step_medians(results)
    if steps:
        lines += [
            "Median wall seconds of one task's steps (under the load above):",
            "",
            "| " + " | ".join(steps) + " |",
            "|" + "---:|" * len(steps),
            "| " + " | ".join(f"{v:.2f}" for v in steps.values()) + " |",
            "",
        ]
    if repeats > 1:
        lines += _spreads(counted)
    by_solver: dict[str, list[dict[str, Any]]] = {}
    for r in counted:
        by_solver.setdefault(r["solver"], []).append(r)
    lines += [
        "| solver | tasks counted | median instructions | median per iteration |",
        "|---|---:|---:|---:|",
    ]
    for solver, rows in sorted(by_solver.items()):
        per_iter = [r["instructions_per_iteration"] for r in rows if r.get("instructions_per_iteration")]
        med = statistics.median(r["instructions"] for r in rows)
        pit = f"{statistics.median(per_iter) / 1e3:.1f} k" if per_iter else "-"
        lines.append(f"| {solver} | {len(rows)} | {med / 1e6:.3f} M | {pit} |")
    env = (doc.get("meta") or {}).get("environment") or {}
    if env:
        lines += ["", f"Counted by engine `{env.get('engine')}` (target `{env.get('target_isa')}`), "
                  f"{env.get('valgrind')}, {env.get('glibc')}, Python {env.get('python')}."]  # fmt: skip
    if flags := _flags_line(doc):
        lines += ["", *flags]
    return [*lines, ""]


def _spread(r: dict[str, Any]) -> float | None:
    """A task's spread over its processes, or None where it has none: counted once, or not recorded."""
    value = r.get("instructions_spread")
    several = len(r.get("instructions_samples") or []) > 1
    return float(value) if several and isinstance(value, (int, float)) else None


def _spreads(counted: list[dict[str, Any]]) -> list[str]:
    """Each task's spread over its processes ((max - min) / median of the compared count)."""
    known = [s for r in counted if (s := _spread(r)) is not None]
    if not known:
        return []
    rows = sorted(counted, key=lambda r: -(_spread(r) if _spread(r) is not None else -1.0))
    lines = [
        f"Spread of each task's count over its processes, (max - min) / median: largest "
        f"{100 * max(known):.3f}%, median {100 * statistics.median(known):.3f}% ({len(known)} task"
        f"{'s' if len(known) > 1 else ''} counted more than once).",
        "",
        "| task | processes | median instructions | spread |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        key, spread = f"{r['solver']}/{r['problem']}-{r['n']}", _spread(r)
        shown = "-" if spread is None else f"{100 * spread:.3f}%"
        processes = len(r.get("instructions_samples") or [])
        lines.append(f"| {key} | {processes} | {r['instructions'] / 1e6:.3f} M | {shown} |")
    return [*lines, ""]


#: What counts recorded before the engine was were: each compiled in the counted process, under valgrind.
EARLIER = "in-valgrind"


def engine_of(doc: dict[str, Any]) -> str:
    return (doc.get("meta") or {}).get("engine") or EARLIER


def _recorded_flags(doc: dict[str, Any]) -> Any:
    """What the run recorded of valgrind's flags: the counting processes' report (``meta.environment``,
    joined by `` / `` where they differed) where it has one, else the flags beside the counts (a run
    that counted in the process that wrote the file). Not the writer's flags where the processes
    reported none: a resumed run or a cluster's workers may have counted with other code."""
    meta = doc.get("meta") or {}
    env = meta.get("environment") or {}
    return env.get("valgrind_flags") if env else meta.get("valgrind_flags")


def flags_of(doc: dict[str, Any]) -> tuple[str, ...]:
    """valgrind's flags every count of the run was taken with; empty where the run did not record them
    or its counting processes reported more than one set."""
    flags = _recorded_flags(doc)
    if isinstance(flags, list) and all(isinstance(f, str) for f in flags):
        return tuple(flags)
    return ()


def _flags_line(doc: dict[str, Any]) -> list[str]:
    """The page's line on the run's flags: one set, several (said so), or none recorded (no line)."""
    if flags := flags_of(doc):
        return [f"valgrind's flags: `{' '.join(flags)}`."]
    if recorded := _recorded_flags(doc):
        return [f"valgrind's flags differed between the counting processes: `{recorded}`."]
    return []


def _ratios(docs: dict[str, dict[str, Any]]) -> list[str]:
    """Per task, the current engine's count over the earlier engine's, where files of both cover it.

    Runs are grouped by engine and valgrind's flags: counts taken with other flags (a function left
    out of the count) are another figure, never merged into one column (a later file's count
    replaced an earlier one's). Each section names the runs its counts come from (of one engine and
    flags, the last file read that counted the task)."""
    counts: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
    totals: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
    runs: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}  # the run each count is taken from
    for name, doc in docs.items():
        group = (engine_of(doc), flags_of(doc))
        for r in doc["results"]:
            if r.get("instructions"):
                key = f"{r['solver']}/{r['problem']}-{r['n']}"
                counts.setdefault(group, {})[key] = r["instructions"]
                runs.setdefault(group, {})[key] = name
                all_counted = r.get("instructions_total_samples") or []
                if all_counted:
                    totals.setdefault(group, {})[key] = statistics.median(all_counted)
    lines: list[str] = []
    for (engine, flags), mine in sorted(counts.items()):
        if engine == EARLIER:
            continue
        for before in sorted(g for g in counts if g[0] == EARLIER):
            lines += _ratio_section(engine, flags, mine, totals.get((engine, flags), {}), counts[before],
                                    totals.get(before, {}), runs[(engine, flags)], runs[before])  # fmt: skip
    return lines


def _ratio_section(
    engine: str,
    flags: tuple[str, ...],
    mine: dict[str, float],
    mine_totals: dict[str, float],
    earlier: dict[str, float],
    earlier_totals: dict[str, float],
    mine_runs: dict[str, str],
    earlier_runs: dict[str, str],
) -> list[str]:
    """One engine and flags' counts against the earlier engine's, task by task."""
    lines: list[str] = []
    common = sorted(set(mine) & set(earlier))
    if common:
        ratios = [mine[k] / earlier[k] for k in common]

        def total_ratio(k: str) -> str:
            if k in mine_totals and earlier_totals.get(k):
                return f"{mine_totals[k] / earlier_totals[k]:.3f}"
            return "-"

        named = [
            ", ".join(f"`{n}`" for n in sorted({r[k] for k in common})) for r in (mine_runs, earlier_runs)
        ]
        lines += [
            f"## Counts of `{engine}` against the earlier engine (compiled under valgrind)",
            "",
            f"Counts of {named[0]} (valgrind's flags `{' '.join(flags) or 'not recorded'}`) against "
            f"{named[1]}.",
            "",
            f"{len(common)} task(s) counted by both; ratio = `{engine}` / in-valgrind: median "
            f"{statistics.median(ratios):.3f}, from {min(ratios):.3f} to {max(ratios):.3f}. Two things "
            "differ: executables compiled natively for AVX2 are other code than those compiled for "
            "valgrind's CPU, and this engine's compared figure leaves out glibc's allocator internals "
            "besides the scheduler (the ratio of everything callgrind counted is beside it). The counts "
            'step once when the engine changes; the gate says so ("engine changed") rather than alerting.',
            "",
            "| task | in-valgrind | this engine | ratio | ratio of everything counted |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {k} | {earlier[k] / 1e6:.3f} M | {mine[k] / 1e6:.3f} M | {mine[k] / earlier[k]:.3f} "
                f"| {total_ratio(k)} |"
                for k in common
            ),
            "",
        ]
    return lines


def _timed_where(machine_meta: dict[str, Any]) -> str:
    """Where a profile run timed its solves, from its pinning record."""
    pin = machine_meta.get("pinning") or {}
    if not pin.get("pinned") or not pin.get("cpus"):
        return "not pinned"
    cpus, before = pin["cpus"], pin.get("cpus_before") or []
    idle = [c for c in before if c not in cpus]
    rest = f", CPU {', '.join(map(str, idle))} left to nothing else of the run" if idle else ""
    return f"pinned to CPU {', '.join(map(str, cpus))}{rest}"


def _agreement(docs: dict[str, dict[str, Any]]) -> list[str]:
    """Runs of one engine and valgrind's flags that counted the same tasks, task by task: how far their
    counts agree (each sample from another process, another worker, possibly another scheduler)."""
    runs = [(name, doc) for name, doc in docs.items() if doc.get("kind") != "profile" and doc.get("results")]
    lines: list[str] = []
    for i, (a_name, a) in enumerate(runs):
        for b_name, b in runs[i + 1 :]:
            if engine_of(a) != engine_of(b) or a.get("grid") != b.get("grid"):
                continue
            if not flags_of(a) or flags_of(a) != flags_of(b):  # counted otherwise: a step, not noise
                continue
            counts_a = {(r["solver"], r["problem"], r["n"]): r for r in a["results"] if r.get("instructions")}
            counts_b = {(r["solver"], r["problem"], r["n"]): r for r in b["results"] if r.get("instructions")}
            same = [k for k in counts_a if k in counts_b and counts_a[k]["n_iter"] == counts_b[k]["n_iter"]]
            if len(same) < 2:
                continue
            ratio = {k: counts_b[k]["instructions"] / counts_a[k]["instructions"] for k in same}
            off = sorted(same, key=lambda k: -abs(ratio[k] - 1))
            within = sum(abs(ratio[k] - 1) <= 0.002 for k in same)
            lines += [
                f"## `{a_name}` and `{b_name}`: the same tasks counted twice (`{engine_of(a)}`)",
                "",
                f"{len(same)} task(s) counted by both with the same iterations; ratio {b_name} / {a_name}: "
                f"median {statistics.median(ratio.values()):.4f}, from {min(ratio.values()):.4f} to "
                f"{max(ratio.values()):.4f}; {within} of {len(same)} within 0.2%. The largest differences:",
                "",
                f"| task | {a_name} | {b_name} | ratio |",
                "|---|---:|---:|---:|",
                *(
                    f"| {s}/{p}-{n} | {counts_a[(s, p, n)]['instructions'] / 1e6:.3f} M "
                    f"| {counts_b[(s, p, n)]['instructions'] / 1e6:.3f} M | {ratio[(s, p, n)]:.4f} |"
                    for s, p, n in off[:10]
                ),
                "",
            ]
    return lines


def _profile_section(name: str, doc: dict[str, Any]) -> list[str]:
    """A whole ``profile --instructions`` run (``scripts/record_profile_run.py``): its wall time, the
    instruction phase's, and how many of its tasks were counted."""
    tasks, phase = doc["tasks"], doc["instruction_phase_s"]
    load = ", ".join(f"{x:.1f}" for x in doc["load_before"]), ", ".join(f"{x:.1f}" for x in doc["load_after"])
    env = (doc.get("meta") or {}).get("environment") or {}
    return [
        f"## {name}: `{doc['command']}`, {doc['problems']} problems x {len(doc['solvers'])} solvers",
        "",
        f"On {machine(doc['machine'])}; {versions(doc['machine'])}; engine `{doc['meta'].get('engine')}`"
        f" ({env.get('valgrind', 'valgrind unknown')}). Run from {doc['started']} to {doc['ended']}; load "
        f"average (1, 5, 15 min) before {load[0]}, after {load[1]}.",
        "",
        "| tasks | counted | counting workers | instruction phase (s) | seconds per task | whole command (s) "
        "| CPU of the whole command (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {tasks} | {doc['tasks_counted']} | {doc.get('workers') or '-'} | {phase:.0f} "
        f"| {phase / tasks:.2f} | {doc['wall_s']:.0f} | {doc['cpu_s']:.0f} |",
        "",
        f"The whole command first times every solve ({_timed_where(doc['machine'])}), then counts "
        f"every task's instructions ({doc.get('scheduler') or 'scheduler not recorded'}); the instruction "
        "phase includes the counting workers' start-up and every native build.",
        "",
        *([*flags, ""] if (flags := _flags_line(doc)) else []),
    ]


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    files = sorted(data_dir.glob("*.json")) if data_dir.is_dir() else []
    lines = [
        GENERATED_NOTE.format(page=PAGE).rstrip("\n"),
        "# Results: the counting engine's cost",
        "",
        "How much CPU one instruction count costs with the engine of "
        "[What instruction counts are](../explanation/instruction-counts.md): executables compiled "
        "natively for valgrind's instruction set, loaded by a long-lived counted process per worker.",
        "",
    ]
    if not files:
        lines += ["No measurement is committed yet. To add one:", "", *HOW, ""]
    docs = {path.stem: load_json(path) for path in files}
    if len(docs) > 1:
        lines += [
            "Each run below was measured on its own, under the load it records: their times are not a "
            "ratio measured side by side; the counts do not depend on the load.",
            "",
        ]
    for name, doc in docs.items():
        if doc.get("kind") == "profile":
            lines += _profile_section(name, doc)
        else:
            lines += _section(f"{name} ({engine_of(doc)})", doc)
    lines += _ratios({name: doc for name, doc in docs.items() if doc.get("kind") != "profile"})
    lines += _agreement(docs)
    lines += ["To measure again:", "", *HOW, ""]
    return [write_text(docs_dir / "results" / f"{PAGE}.md", "\n".join(lines))]
