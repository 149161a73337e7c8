"""``report.md`` and ``report.json``: the headline table, then one section per question, generated from the data."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.stages import crossover_n, overhead_ratio, speedups

SEED = ("rosenbrock", 100)


def crossovers(scaling: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per problem and JAX solver, the n where the steady speedup over SciPy falls through 1."""
    return {p: {s: crossover_n(pts) for s, pts in per.items()} for p, per in speedups(scaling).items()}


def _f(x: float | None, spec: str = ".3g", unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{format(x, spec)}{unit}"


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def headline(report: ReportData) -> list[str]:
    s = report.stages
    scaling = s["scaling"].data if report.ok("scaling") else []
    be = s["break_even"].data if report.ok("break_even") else []
    batch = s["batched"].data if report.ok("batched") else []
    cross = crossovers(scaling) if scaling else {}
    b64 = _row(batch, B=64)
    ref = _row(scaling, problem=SEED[0], n=SEED[1], solver="scipy")
    lines = [
        "| solver | first call (s) | steady (ms) | speedup vs SciPy | break-even, cold cache | "
        "break-even, warm cache | crossover n (rosenbrock / logistic) | batched speedup at B=64 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for solver in ("scipy", "optax_loop", "optax_while"):
        r = _row(scaling, problem=SEED[0], n=SEED[1], solver=solver)
        b = _row(be, problem=SEED[0], n=SEED[1], solver=solver)
        speed = ref["steady_s"] / r["steady_s"] if r and ref else None
        cr = " / ".join(
            _crossover_text(cross.get(p, {}).get(solver), p, scaling, solver)
            for p in ("rosenbrock", "logistic")
        )
        batched = None
        if solver == "optax_while" and b64:
            batched = b64["sequential_scipy_s"] / b64["vmap_s"]
        lines.append(
            f"| {solver} | {_f(r and r['first_call_s'], '.2f')} | {_f(r and 1e3 * r['steady_s'], '.2f')} "
            f"| {_f(speed, '.2f', 'x')} | {_be(b, 'cold', solver)} | {_be(b, 'warm', solver)} "
            f"| {cr if solver != 'scipy' else '-'} | {_f(batched, '.1f', 'x') if solver == 'optax_while' else '-'} |"
        )
    return lines


def _be(row: dict[str, Any] | None, label: str, solver: str) -> str:
    if solver == "scipy":
        return "-"
    if row is None:
        return "not measured"
    value = row[f"break_even_{label}"]
    return row["note"] or "never" if value is None else f"{value} solves"


def _crossover_text(value: float | None, problem: str, scaling: list[dict[str, Any]], solver: str) -> str:
    if solver == "scipy":
        return "-"
    if value is not None:
        return f"~{value:,.0f}"
    pts = speedups(scaling).get(problem, {}).get(solver, [])
    if not pts:
        return "-"
    return "faster at every n" if all(s > 1 for _, s in pts) else "slower at every n"


def section_scaling(report: ReportData) -> list[str]:
    data = report.stages["scaling"].data
    cross = crossovers(data)
    lines = ["## 1. Scaling: first call and steady state vs n", ""]
    sp = speedups(data)
    for problem, per in sp.items():
        w = per.get("optax_while", [])
        if w:
            best = max(w, key=lambda t: t[1])
            worst = min(w, key=lambda t: t[1])
            c = cross[problem].get("optax_while")
            where = f"falls below SciPy's speed near n~{c:,.0f}" if c else "stays on one side of SciPy"
            lines.append(
                f"- {problem}: optax_while's steady speedup over SciPy goes from {worst[1]:.2f}x (n={worst[0]}) "
                f"to {best[1]:.2f}x (n={best[0]}) and {where}."
            )
    budget = sorted({(r["problem"], r["n"]) for r in data if r["fixed_budget"]})
    if budget:
        lines.append(
            "- Fixed iteration budgets (1000 iterations; Rosenbrock needs ~5n): "
            + ", ".join(f"{p} n={n}" for p, n in budget)
            + ". Their times are the cost of those iterations."
        )
    lines += ["", "![scaling_time.png](scaling_time.png)", "", "![speedup.png](speedup.png)", ""]
    lines += [
        "| problem | n | solver | first call (s) | compile (s) | steady (ms) | iterations | converged |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for r in sorted(data, key=lambda r: (r["problem"], r["n"])):
        lines.append(
            f"| {r['problem']} | {r['n']} | {r['solver']} | {r['first_call_s']:.3f} | {r['compile_s']:.3f} "
            f"| {1e3 * r['steady_s']:.3f} | {r['n_iter']} | {'yes' if r['converged'] else 'no (budget)' if r['fixed_budget'] else 'no'} |"
        )
    return [*lines, ""]


def section_floor(report: ReportData) -> list[str]:
    floors = report.stages["floor"].data
    scaling = report.stages["scaling"].data if report.ok("scaling") else []
    lines = ["## 2. The floor: time per iteration vs one evaluation inside XLA", ""]
    rows = []
    for f in floors:
        for solver in ("scipy", "optax_loop", "optax_while"):
            r = _row(scaling, problem=f["problem"], n=f["n"], solver=solver)
            if r and r["seconds_per_iteration"]:
                rows.append((f, solver, r["seconds_per_iteration"]))
    seed = [(f, s, t) for f, s, t in rows if (f["problem"], f["n"]) == SEED and s == "optax_while"]
    if seed:
        f, _, t = seed[0]
        lines.append(
            f"At the seed case one f+g evaluation inside XLA costs {1e6 * f['seconds_per_evaluation']:.2f} us and "
            f"one optax_while iteration {1e6 * t:.2f} us: {overhead_ratio(t, f['seconds_per_evaluation']):.0f} "
            "evaluations' worth of time per iteration (L-BFGS bookkeeping, line search, loop control)."
        )
    lines += ["", "![floor.png](floor.png)", ""]
    lines += ["| problem | n | one evaluation (us) | solver | one iteration (us) | iteration / evaluation |"]
    lines += ["|---|---|---|---|---|---|"]
    for f, solver, t in rows:
        lines.append(
            f"| {f['problem']} | {f['n']} | {1e6 * f['seconds_per_evaluation']:.3f} | {solver} | {1e6 * t:.2f} "
            f"| {overhead_ratio(t, f['seconds_per_evaluation']):.1f} |"
        )
    return [*lines, ""]


def section_break_even(report: ReportData) -> list[str]:
    rows = report.stages["break_even"].data
    lines = ["## 3. Break-even, with JAX's persistent compilation cache cold and warm", ""]
    lines.append(
        "First calls in fresh processes (import not counted), the persistent cache off (cold) or filled by an "
        "earlier process in a temporary directory that is removed afterwards (warm; "
        "`jax_persistent_cache_min_compile_time_secs=0`, `..._min_entry_size_bytes=-1`)."
    )
    lines += ["", "![break_even.png](break_even.png)", ""]
    lines += [
        "| problem | n | solver | SciPy first call (s) | cold (s) | warm (s) | break-even cold | break-even warm |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['n']} | {r['solver']} | {r['scipy_first_call_s']:.3f} | {r['cold_first_call_s']:.3f} "
            f"| {r['warm_first_call_s']:.3f} | {_be(r, 'cold', r['solver'])} | {_be(r, 'warm', r['solver'])} |"
        )
    return [*lines, ""]


def section_batched(report: ReportData) -> list[str]:
    rows = report.stages["batched"].data
    lines = ["## 4. Batched solves: one vmapped while_loop vs B sequential solves", ""]
    b = max(rows, key=lambda r: r["B"])
    lines.append(
        f"At B={b['B']} (seed case, seeded starting points around x0): vmap {b['vmap_s']:.3f} s, "
        f"{b['B']} sequential optax_while solves {b['sequential_jit_s']:.3f} s, {b['B']} SciPy solves "
        f"{b['sequential_scipy_s']:.3f} s ({b['sequential_scipy_s'] / b['vmap_s']:.1f}x). The vmapped loop runs "
        f"until its slowest member stops: members took {b['member_iterations_min']}-{b['member_iterations_max']} "
        f"iterations; {b['converged_members']} of {b['B']} reached ||g||_inf <= 1e-5."
    )
    lines += ["", "![batched.png](batched.png)", ""]
    lines += [
        "| B | vmap (s) | sequential jit (s) | sequential SciPy (s) | converged members | member iterations |"
    ]
    lines += ["|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['B']} | {r['vmap_s']:.4f} | {r['sequential_jit_s']:.4f} | {r['sequential_scipy_s']:.4f} "
            f"| {r['converged_members']}/{r['B']} | {r['member_iterations_min']}-{r['member_iterations_max']} |"
        )
    return [*lines, ""]


def section_convergence(report: ReportData) -> list[str]:
    traces = report.stages["convergence"].data
    lines = ["## 5. Convergence on the seed case", ""]
    parts = [
        f"{s} {len(t['loss'])} iterations in {1e3 * t['time_s'][-1]:.1f} ms"
        for s, t in traces.items()
        if t["time_s"]
    ]
    lines.append(
        "Loss and gradient inf-norm per iteration and over wall time (steady state): "
        + "; ".join(parts)
        + ". "
        "SciPy and the Python loop are observed as they run; the compiled while_loop cannot be observed from "
        "inside, so its path is the Python loop's (identical, tested) and its times spread its measured solve "
        "evenly over its iterations."
    )
    return [*lines, "", "![convergence.png](convergence.png)", ""]


def section_robustness(report: ReportData) -> list[str]:
    doc = report.stages["robustness"].data
    lines = ["## 6. Robustness on the Moré-Garbow-Hillstrom set", ""]
    n = len(doc["problems"])
    rates = []
    for solver in doc["solvers"]:
        k = sum(r["solved"] for r in doc["runs"] if r["solver"] == solver)
        rates.append(f"{solver} {k}/{n}")
    lines.append(f"Solved by the suite's rule ({doc['success_rule']}): " + ", ".join(rates) + ".")
    for solver, reason in doc["skipped_solvers"].items():
        lines.append(f"- {solver} skipped: {reason}")
    lines += ["", "![robustness_profile.png](robustness_profile.png)", ""]
    return lines


SECTIONS = {
    "scaling": section_scaling,
    "floor": section_floor,
    "break_even": section_break_even,
    "batched": section_batched,
    "convergence": section_convergence,
    "robustness": section_robustness,
}


def render(report: ReportData) -> str:
    meta = report.meta
    v = meta["versions"]
    pin = meta["pinning"]
    lines = [
        "# When does each L-BFGS solver win?",
        "",
        f"`lbfgs-bench report` ({report.plan}) | jax {v['jax']} | jaxlib {v['jaxlib']} | optax {v['optax']} "
        f"| scipy {v['scipy']} | numpy {v['numpy']} | python {meta['python']}  ",
        f"CPU: {meta['cpu']} ({meta['cpu_count']} logical) | "
        f"{'pinned to CPU ' + str(pin['cpus'][0]) if pin.get('pinned') else 'not pinned'} | "
        f"OPENBLAS_NUM_THREADS={meta['thread_env'].get('OPENBLAS_NUM_THREADS')} | {meta['timestamp_utc']}",
        "",
        "Seed case: rosenbrock n=100, gtol 1e-5, memory 10. Steady = median of precompiled solves with zero "
        "compilations checked; first call = caches cleared. Compare ratios within this report, never absolute "
        "times across machines.",
        "",
        *headline(report),
        "",
    ]
    for name, section in SECTIONS.items():
        stage = report.stages.get(name)
        if stage is None:
            continue
        if stage.error or stage.data is None:
            lines += [f"## {name}: stage failed", "", f"`{stage.error or 'no data'}`", ""]
            continue
        lines += section(report)
    lines += ["## Stages", "", "| stage | seconds | outcome |", "|---|---|---|"]
    for stage in report.stages.values():
        lines.append(
            f"| {stage.name} | {stage.seconds:.0f} | {'failed: ' + stage.error if stage.error else 'ok'} |"
        )
    return "\n".join(lines) + "\n"


def to_dict(report: ReportData) -> dict[str, Any]:
    return {
        "plan": report.plan,
        "meta": report.meta,
        "stages": {k: asdict(v) for k, v in report.stages.items()},
    }


def write(report: ReportData, outdir: Path, figure_names: list[str]) -> list[Path]:
    from lbfgs_impl.outputs import atomic_write_text, write_json_atomic

    # A figure whose drawing failed is not linked; every figure written is.
    text = "\n".join(
        line
        for line in render(report).split("\n")
        if not (line.startswith("![") and line.split("](", 1)[-1].rstrip(")") not in figure_names)
    )
    missing = [f for f in figure_names if f"]({f})" not in text]
    if missing:  # every figure written is shown
        text += "\n" + "\n".join(f"![{f}]({f})" for f in missing) + "\n"
    write_json_atomic(outdir / "report.json", to_dict(report))
    atomic_write_text(outdir / "report.md", text)
    return [outdir / "report.json", outdir / "report.md"]
