"""The sections of ``report.md`` after the headline, one per stage; every number and caption from the data."""

from __future__ import annotations

from typing import Any

from lbfgs_impl.commands.report.batched import reconstructed_from
from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.explain_section import section_explain
from lbfgs_impl.commands.report.plans import DENSE_MAX_N
from lbfgs_impl.commands.report.stages import (
    ITERATION_GAP,
    comparable,
    crossover_direction,
    iteration_gaps,
    overhead_ratio,
    speedup_curves,
)
from lbfgs_impl.plots.report import batch_outcome
from lbfgs_impl.solvers import get_solver

SEED = ("rosenbrock", 100)


def f(x: float | None, spec: str = ".3g", unit: str = "") -> str:
    import math

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{format(x, spec)}{unit}"


def row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def solvers_in(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["solver"] for r in rows))


def tag(solver: str, rows: list[dict[str, Any]]) -> str:
    r = row(rows, solver=solver)
    return f"{solver} (peer)" if r and r.get("peer") else solver


def _scaling_caveats(data: list[dict[str, Any]]) -> list[str]:
    """What the speedups leave out or are read against: dense BFGS sizes, failed solves, iteration gaps."""
    lines: list[str] = []
    dense = sorted({r["solver"] for r in data if get_solver(r["solver"]).dense_hessian})
    if dense and any(r["n"] > DENSE_MAX_N for r in data):
        lines.append(
            f"- {', '.join(dense)} {'keeps' if len(dense) == 1 else 'keep'} a dense n x n inverse Hessian "
            f"(BFGS): run up to n = {DENSE_MAX_N} only (at n = 10^4 one matrix is 0.8 GB and each update "
            "10^8 flops)."
        )
    failed = [r for r in data if not comparable(r)]
    if failed:
        lines.append(
            "- Not converged, so left out of every speedup and crossover (a solve that stops short is "
            "fast for doing less): "
            + "; ".join(
                f"{r['problem']} n={r['n']} {tag(r['solver'], data)} ({r['n_iter']} iterations)"
                for r in failed
            )
            + "."
        )
    gaps = iteration_gaps(data)
    if gaps:
        lines.append(
            f"- Speedups that count iterations (the solver's iterations differ from SciPy's by more than "
            f"{ITERATION_GAP:g}x): "
            + "; ".join(
                f"{g['problem']} n={g['n']} {tag(g['solver'], data)}: {g['n_iter']:,} against "
                f"{g['scipy_n_iter']:,} iterations, {f(g['speedup_per_solve'], '.2f', 'x')} per solve, "
                f"{f(g['speedup_per_iteration'], '.2f', 'x')} per iteration"
                for g in gaps
            )
            + ". There the per-solve figure says how many iterations each took from this start, not "
            "how fast an iteration is."
        )
    return lines


def section_scaling(report: ReportData) -> list[str]:
    data = report.stages["scaling"].data
    lines = ["## 1. Scaling: first call and steady state vs n", ""]
    for curve in speedup_curves(data):
        pts, c = curve["points"], curve["crossover"]
        best, worst = max(pts, key=lambda t: t[1]), min(pts, key=lambda t: t[1])
        where = (
            f"{crossover_direction(pts)} SciPy's speed near n~{c:,.0f}" if c else "stays on one side of SciPy"
        )
        lines.append(
            f"- {curve['problem']}, {tag(curve['solver'], data)}, {curve['basis']}: speedup over SciPy from "
            f"{worst[1]:.2f}x (n={worst[0]}) to {best[1]:.2f}x (n={best[0]}); it {where}."
        )
    if len({c["basis"] for c in speedup_curves(data)}) > 1:
        lines.append(
            "- Speedups per solve and per iteration are separate curves: no curve and no crossover joins "
            "the two bases (their ratios measure different things)."
        )
    budget = sorted({(r["problem"], r["n"], r["maxiter"]) for r in data if r["fixed_budget"]})
    if budget:
        lines.append(
            "- Fixed iteration budgets (Rosenbrock needs ~5n iterations): "
            + ", ".join(f"{p} n={n} ({m} iterations)" for p, n, m in budget)
            + ". There the speedup compares time per iteration, not per solve (a solver that stops "
            "early would look faster for doing less)."
        )
    lines += _scaling_caveats(data)
    samples = sorted({r["steady_samples"] for r in data if r.get("steady_samples")})
    if samples:
        k = f"{samples[0]}" if len(samples) == 1 else f"{samples[0]}-{samples[-1]}"
        lines.append(
            f"- Each row: one first call with JAX's caches cleared (it compiles the solve, which then "
            f"serves as its warm-up), and the median of {k} steady solves of that compiled solve, "
            "round-robin with the other solvers at the same size."
        )
    lines += ["", "![scaling_time.png](scaling_time.png)", "", "![speedup.png](speedup.png)", ""]
    lines += [
        "| problem | n | solver | first call (s) | compile (s) | steady (ms) | per iteration (us) "
        "| iterations | converged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(data, key=lambda r: (r["problem"], r["n"])):
        conv = "yes" if r["converged"] else "no (budget)" if r["fixed_budget"] else "no"
        spi = r["seconds_per_iteration"]
        lines.append(
            f"| {r['problem']} | {r['n']} | {tag(r['solver'], data)} | {r['first_call_s']:.3f} "
            f"| {r['compile_s']:.3f} | {1e3 * r['steady_s']:.3f} | {f(spi and 1e6 * spi, '.2f')} "
            f"| {r['n_iter']} | {conv} |"
        )
    return [*lines, ""]


def floor_rows(report: ReportData) -> list[tuple[dict[str, Any], dict[str, Any], float | None]]:
    """(floor row, scaling row, overhead in evaluations) for every solver measured at a floor size; the
    overhead is ``None`` for a solve that did not converge (kept off the per-iteration comparison)."""
    scaling = report.stages["scaling"].data if report.ok("scaling") else []
    out = []
    for fl in report.stages["floor"].data:
        for r in scaling:
            if (r["problem"], r["n"]) == (fl["problem"], fl["n"]) and r["seconds_per_iteration"]:
                per_iter = r["n_fev"] / r["n_iter"]
                overhead = (
                    overhead_ratio(r["seconds_per_iteration"], fl["seconds_per_evaluation"], per_iter)
                    if comparable(r)
                    else None
                )
                out.append((fl, r, overhead))
    return out


def _floor_name(r: dict[str, Any]) -> str:
    name = tag(r["solver"], [r])
    return name if comparable(r) else f"{name} (did not converge: {r['n_iter']} iterations)"


def section_floor(report: ReportData) -> list[str]:
    floors = report.stages["floor"].data
    lines = ["## 2. The floor: time per iteration vs one evaluation inside XLA", ""]
    fl0 = floors[0]
    lines.append(
        f"One evaluation = the full value and gradient at a typical point ({fl0['point']}), each feeding "
        "the next (a gradient step), inside one compiled loop; timed as "
        f"{fl0['method']} with N chosen so N evaluations take ~0.1 s (N = "
        + ", ".join(f"{x['evaluations_timed']}" for x in floors)
        + "). Overhead = (t_iter - evaluations per iteration x t_eval) / t_eval: the solver's own work "
        "per iteration (L-BFGS bookkeeping, line-search logic, loop control, for SciPy and the Python loop "
        "the host round trip), in evaluations, after taking out the evaluations the iteration makes."
    )
    rows = floor_rows(report)
    seed = [(fl, r, o) for fl, r, o in rows if (fl["problem"], fl["n"]) == SEED]
    if seed:
        parts = [f"{tag(r['solver'], [r])} {o:.1f}" for _, r, o in seed if o is not None]
        lines.append(
            f"At {SEED[0]} n={SEED[1]} one evaluation costs "
            f"{1e6 * seed[0][0]['seconds_per_evaluation']:.2f} us; "
            "overhead per iteration, in evaluations: " + ", ".join(parts) + "."
        )
    failed = [r for _, r, o in rows if o is None]
    if failed:
        lines.append(
            "Not compared per iteration (marked in the figure and the table): "
            + "; ".join(f"{r['problem']} n={r['n']} {_floor_name(r)}" for r in failed)
            + ". A solve that stops short of its stopping rule spends its few iterations mostly on "
            "set-up, so its time per iteration is no solver's cost per iteration."
        )
    lines += ["", "![floor.png](floor.png)", ""]
    lines += [
        "| problem | n | one evaluation (us) | solver | one iteration (us) | evaluations per iteration "
        "| overhead (evaluations) |",
        "|---|---|---|---|---|---|---|",
    ]
    for fl, r, o in rows:
        lines.append(
            f"| {fl['problem']} | {fl['n']} | {1e6 * fl['seconds_per_evaluation']:.3f} "
            f"| {_floor_name(r)} "
            f"| {1e6 * r['seconds_per_iteration']:.2f} | {r['n_fev'] / r['n_iter']:.2f} "
            f"| {'not compared' if o is None else f'{o:.1f}'} |"
        )
    return [*lines, ""]


def be_text(r: dict[str, Any] | None, label: str) -> str:
    if r is None:
        return "not measured"
    value = r[f"break_even_{label}"]
    return (r["note"] or "never") if value is None else f"{value} solve{'' if value == 1 else 's'}"


def section_break_even(report: ReportData) -> list[str]:
    rows = report.stages["break_even"].data
    k = rows[0]["samples"] if rows else 0
    lines = ["## 3. Break-even, with JAX's persistent compilation cache cold and warm", ""]
    lines.append(
        f"First calls in fresh processes (forked from a server that imported the libraries and started "
        f"no JAX backend: imports not counted, a peer's included), {k} per variant and cache state, SciPy "
        "included (its value_and_grad is jitted, so the cache serves it too): the persistent cache off "
        "(cold), or filled by the report's own process (the same solve built, compiled and run) in a "
        "temporary directory removed afterwards (warm; `jax_persistent_cache_min_compile_time_secs=0`, "
        "`..._min_entry_size_bytes=-1`). Checked in every child's timed span: no cache hit when cold, "
        "every executable loaded from the cache when warm, a compilation when cold, and the steady "
        "solve's iterations and convergence. Medians, with the spread (min-max); steady times at the same "
        "maxiter. Break-even = solves until the variant's total time is no more than SciPy's, cold against "
        "cold and warm against warm."
    )
    lines += ["", "![break_even.png](break_even.png)", ""]
    lines += [
        "| problem | n | solver | SciPy cold (s) | cold (s) | SciPy warm (s) | warm (s) | warm cache hits "
        "| break-even cold | break-even warm |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(r: dict[str, Any], key: str) -> str:
        lo, hi = r[key.replace("first_call", "spread")]
        return f"{r[key]:.2f} ({lo:.2f}-{hi:.2f})"

    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['n']} | {r['solver']} | {cell(r, 'scipy_cold_first_call_s')} "
            f"| {cell(r, 'cold_first_call_s')} | {cell(r, 'scipy_warm_first_call_s')} "
            f"| {cell(r, 'warm_first_call_s')} | {', '.join(map(str, r['warm_cache_hits']))} "
            f"| {be_text(r, 'cold')} | {be_text(r, 'warm')} |"
        )
    return [*lines, ""]


def batched_members(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """optax_while and every batched peer of one batched row, by solver (peers that could not batch apart)."""
    keys = (
        "vmap_s", "sequential_jit_s", "converged_members", "converged_sequential_jit",
        "member_iterations_min", "member_iterations_max", "same_iterations_vmap_vs_sequential",
    )  # fmt: skip
    out = {"optax_while": {k: row[k] for k in keys}}
    out.update({p: v for p, v in row.get("peers", {}).items() if "unsupported" not in v})
    return out


def section_batched(report: ReportData) -> list[str]:
    rows = report.stages["batched"].data
    lines = ["## 4. Batched solves: one vmapped while_loop vs B sequential solves", ""]
    b = max(rows, key=lambda r: r["B"])
    members = batched_members(b)
    lines.append(
        f"At B={b['B']} (rosenbrock n={b['n']}, the same seeded starting points around x0 for every solver, "
        f"median of {b['repeats']} timings each), {b['B']} SciPy solves took {b['sequential_scipy_s']:.3f} s "
        f"({b['converged_scipy']}/{b['B']} converged). Each solver whose whole solve is one jitted loop, "
        "under jax.vmap (one call) and as B sequential jitted solves:"
    )
    lines.append("")
    for solver, m in members.items():
        outcome = batch_outcome(m["converged_members"], b["B"])
        speed = (
            outcome
            if outcome.startswith("did not")
            else f"{b['sequential_scipy_s'] / m['vmap_s']:.1f}x SciPy"
        )
        lines.append(
            f"- {tag(solver, report.stages['scaling'].data if report.ok('scaling') else [])}: vmap "
            f"{m['vmap_s']:.3f} s ({speed}), sequential "
            f"{m['sequential_jit_s']:.3f} s; converged (||g||_inf <= gtol) vmap "
            f"{m['converged_members']}/{b['B']}, "
            f"sequential {m['converged_sequential_jit']}/{b['B']}; members took "
            f"{m['member_iterations_min']}-{m['member_iterations_max']} iterations, "
            f"{m['same_iterations_vmap_vs_sequential']}/{b['B']} as many as the same start solved alone."
        )
    for solver, v in b.get("peers", {}).items():
        if "unsupported" in v:
            lines.append(f"- {solver}: not batched ({v['unsupported']}).")
    lines.append("")
    lines.append(
        "A vmapped while_loop runs until its slowest member stops. Convergence is judged by the suite's "
        "rule on the gradient at each member's final point, whatever the library's own stopping test."
    )
    lines += ["", "![batched.png](batched.png)", ""]
    lines += [
        "| B | solver | vmap (s) | sequential jit (s) | sequential SciPy (s) | converged vmap / jit / SciPy "
        "| member iterations |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for solver, m in batched_members(r).items():
            lines.append(
                f"| {r['B']} | {solver} | {m['vmap_s']:.4f} | {m['sequential_jit_s']:.4f} "
                f"| {r['sequential_scipy_s']:.4f} "
                f"| {m['converged_members']} / {m['converged_sequential_jit']} / {r['converged_scipy']} "
                f"of {r['B']} | {m['member_iterations_min']}-{m['member_iterations_max']} |"
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
    observed = [s for s, t in traces.items() if not reconstructed_from(s, t)]
    lines.append(
        "Loss and gradient inf-norm per iteration and over wall time (steady state): "
        + "; ".join(parts)
        + f". Observed: {', '.join(observed) or 'none'}, through their solvers' own run (SciPy with every "
        "option it is timed with); each trace was checked in this run to have its solve's iterations and "
        "final loss."
    )
    for solver, t in traces.items():
        if source := reconstructed_from(solver, t):
            lines.append(
                f"Reconstructed, not observed: {solver} (dashed in the figure). A compiled loop cannot be "
                f"observed from inside: its path is {source}'s, checked in this run against "
                f"its own solve ({len(t['loss'])} iterations, same final loss), and its times are "
                f"{t.get('times', 'its measured solve spread evenly over its iterations')}."
            )
    return [*lines, "", "![convergence.png](convergence.png)", ""]


def section_robustness(report: ReportData) -> list[str]:
    doc = report.stages["robustness"].data
    lines = ["## 6. Robustness on the Moré-Garbow-Hillstrom set", ""]
    n = len(doc["problems"])
    rates = [f"{s} {sum(r['solved'] for r in doc['runs'] if r['solver'] == s)}/{n}" for s in doc["solvers"]]
    lines.append(f"Solved by the suite's rule ({doc['success_rule']}): " + ", ".join(rates) + ".")
    lines.append(f"The profile charges evaluations {doc.get('cost_charged', 'up to each stop')}.")
    if doc.get("meta", {}).get("timed") is False:
        lines.append(
            "Nothing in this section is timed: each outcome and evaluation count comes from one solve "
            "whose objective reports every value to the host (checked against the solver's own evaluation "
            "count); `lbfgs-bench profile` times the solves and checks the traced path against them."
        )
    for solver, reason in doc["skipped_solvers"].items():
        lines.append(f"- {solver} skipped: {reason}")
    for problem, reason in doc.get("excluded_problems", {}).items():
        lines.append(f"- {problem}: {reason}")
    lines += ["", "![robustness_profile.png](robustness_profile.png)", ""]
    return lines


SECTIONS = {
    "scaling": section_scaling,
    "floor": section_floor,
    "break_even": section_break_even,
    "batched": section_batched,
    "convergence": section_convergence,
    "robustness": section_robustness,
    "explain": section_explain,
}
