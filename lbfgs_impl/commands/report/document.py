"""``report.md`` and ``report.json``: the headline table, then one section per question, generated from the data.

The sections are in :mod:`.sections`; every number and caption comes from the
stages' data (nothing measured is written here as a literal).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from lbfgs_impl.commands.report.data import ReportData
from lbfgs_impl.commands.report.sections import (
    SECTIONS,
    SEED,
    batched_members,
    be_text,
    f,
    row,
    solvers_in,
    tag,
)
from lbfgs_impl.commands.report.stages import (
    ITERATION_GAP,
    comparable,
    crossover_direction,
    crossovers,
    iteration_gaps,
    speedup_curves,
)
from lbfgs_impl.plots.report import batch_outcome

__all__ = ["crossovers", "headline", "render", "to_dict", "write"]


def headline(report: ReportData) -> list[str]:
    s = report.stages
    scaling = s["scaling"].data if report.ok("scaling") else []
    be = s["break_even"].data if report.ok("break_even") else []
    batch = s["batched"].data if report.ok("batched") else []
    bmax = max(batch, key=lambda r: r["B"]) if batch else None
    ref = row(scaling, problem=SEED[0], n=SEED[1], solver="scipy")
    b_label = f"B={bmax['B']}" if bmax else "B"
    be_seed = [b for b in be if (b["problem"], b["n"]) == SEED]
    lines = [
        "| solver | first call, fresh process, cold cache (s) | first call, warm cache (s) | steady (ms) "
        "| speedup vs SciPy | break-even, cold cache | break-even, warm cache "
        f"| crossover n (rosenbrock / logistic) | batched speedup at {b_label} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ref_steady = _seed_timings("scipy", be_seed, ref)[2]
    for solver in solvers_in(scaling) or ["scipy"]:
        r = row(scaling, problem=SEED[0], n=SEED[1], solver=solver)
        b = row(be_seed, solver=solver)
        cold, warm, steady = _seed_timings(solver, be_seed, r)
        ok = r and ref and comparable(r) and comparable(ref)
        speed = ref_steady / steady if ok and ref_steady and steady else None
        cr = " / ".join(crossover_cell(p, scaling, solver) for p in ("rosenbrock", "logistic"))
        member = batched_members(bmax).get(solver) if bmax else None
        if member:
            outcome = batch_outcome(member["converged_members"], bmax["B"])
            if outcome.startswith("did not"):  # no speedup for a batch that solved nothing
                batched = outcome
            else:
                batched = f(bmax["sequential_scipy_s"] / member["vmap_s"], ".1f", "x")
                batched += f" ({outcome})" if outcome else ""  # a faster batch that solved less says so
        elif bmax and "unsupported" in bmax.get("peers", {}).get(solver, {}):
            batched = "not batched (section 4 says why)"
        elif solver == "optax_loop":  # its loop runs on the host: there is no one function to vmap
            batched = "- (host loop)"
        else:
            batched = "-" if solver == "scipy" else "not measured"
        be_cells = ("-", "-") if solver == "scipy" else (be_text(b, "cold"), be_text(b, "warm"))
        firsts = (f(cold, ".4g"), f(warm, ".4g")) if cold is not None else ("not in break-even",) * 2
        lines.append(
            f"| {tag(solver, scaling)} | {firsts[0]} | {firsts[1]} | {f(steady and 1e3 * steady, '.4g')} "
            f"| {f(speed, '.2f', 'x') if speed or not r else 'did not converge'} | {be_cells[0]} "
            f"| {be_cells[1]} | {cr if solver != 'scipy' else '-'} | {batched} |"
        )
    return lines


def seed_start() -> str:
    """The seed case's starting point in words (``x0 = 0`` for the chained Rosenbrock)."""
    import numpy as np

    from lbfgs_impl.problems import make_problem

    x0 = np.asarray(make_problem(*SEED).x0)
    return f"x0 = {x0.flat[0]:g}" if np.all(x0 == x0.flat[0]) else "its standard x0"


def start_note(report: ReportData) -> list[str]:
    """Which start the headline used, and what changes from the batched stage's perturbed starts: per
    solver, the iterations and the speedup of B sequential solves (the same B starts for every solver)."""
    s = report.stages
    scaling = s["scaling"].data if report.ok("scaling") else []
    batch = [r for r in (s["batched"].data if report.ok("batched") else []) if r["n"] == SEED[1]]
    start = seed_start()
    text = (
        f"Start: the table's steady times, speedups and break-even solve {SEED[0]} n={SEED[1]} from {start}."
    )
    ref = row(scaling, problem=SEED[0], n=SEED[1], solver="scipy")
    if not batch or ref is None:
        return [text + " Not checked from other starts (the batched stage did not run).", ""]
    b = max(batch, key=lambda r: r["B"])
    noise = b.get("perturbation", 0.5)
    parts = []
    its = b["scipy_iterations"]
    parts.append(f"scipy {ref['n_iter']:,} iterations from {start}, {min(its):,}-{max(its):,} from these")
    for solver, m in batched_members(b).items():
        r = row(scaling, problem=SEED[0], n=SEED[1], solver=solver)
        if r is None:
            continue
        lo, hi = m["member_iterations_min"], m["member_iterations_max"]
        here = ref["steady_s"] / r["steady_s"] if comparable(r) and comparable(ref) else None
        there = b["sequential_scipy_s"] / m["sequential_jit_s"]
        outside = r["n_iter"] < lo / ITERATION_GAP or r["n_iter"] > hi * ITERATION_GAP
        parts.append(
            f"{tag(solver, scaling)} {r['n_iter']:,} iterations from {start}, {lo:,}-{hi:,} from these "
            f"(converged {m['converged_sequential_jit']}/{b['B']}); speedup over SciPy "
            f"{f(here, '.2f', 'x') if here else 'none (did not converge)'} from {start}, "
            f"{there:.2f}x over these"
            + (f" (from {start} it takes > {ITERATION_GAP:g}x fewer or more iterations: that speedup counts them)"
               if outside else "")
        )  # fmt: skip
    return [
        text
        + f" Checked from the batched stage's {b['B']} perturbed starts ({start} + U[-{noise:g}, {noise:g}] "
        "per coordinate, the same for every solver; B sequential solves each, section 4): "
        + "; ".join(parts)
        + ".",
        "",
    ]


def _seed_timings(
    solver: str, be_seed: list[dict[str, Any]], scaling_row: dict[str, Any] | None
) -> tuple[float | None, float | None, float | None]:
    """(cold first call, warm first call, steady) of ``solver`` at the seed case, as break-even used them:
    first calls in fresh processes (the break-even stage's medians) and the steady time break-even read,
    so that its column can be recomputed from these three (and SciPy's). No break-even row: no first call
    (the scaling stage's in-process first call is another measurement), the scaling stage's steady time."""
    steady = scaling_row["steady_s"] if scaling_row else None
    if solver == "scipy" and be_seed:
        b = be_seed[0]
        return b["scipy_cold_first_call_s"], b["scipy_warm_first_call_s"], b["scipy_steady_s"]
    b = row(be_seed, solver=solver)
    if b is None:
        return None, None, steady
    return b["cold_first_call_s"], b["warm_first_call_s"], b["steady_s"]


def crossover_cell(problem: str, scaling: list[dict[str, Any]], solver: str) -> str:
    """The headline's crossover for one problem: per basis (never across one), with the iteration-gap
    caveat where the solver's iterations differ from SciPy's by more than :data:`ITERATION_GAP`."""
    curves = [c for c in speedup_curves(scaling) if (c["problem"], c["solver"]) == (problem, solver)]
    if solver == "scipy" or not curves:
        return "-"
    parts = []
    for c in curves:
        pts = c["points"]
        if c["crossover"] is not None:
            text = f"{crossover_direction(pts)} 1 at n~{c['crossover']:,.0f}"
        else:
            ns = f"n={pts[0][0]}-{pts[-1][0]}" if len(pts) > 1 else f"n={pts[0][0]}"
            text = f"{'faster' if all(s > 1 for _, s in pts) else 'slower'} at every measured {ns}"
        parts.append(f"{c['basis']}: {text}" if len(curves) > 1 else text)
    gaps = [g for g in iteration_gaps(scaling) if (g["problem"], g["solver"]) == (problem, solver)]
    if gaps:
        at = ", ".join(f"n={g['n']} ({g['n_iter']:,} vs {g['scipy_n_iter']:,})" for g in gaps)
        parts.append(
            f"iterations differ > {ITERATION_GAP:g}x from SciPy's at {at}: the speedup there counts them"
        )
    return "; ".join(parts)


def _intro(report: ReportData) -> list[str]:
    meta = report.meta
    v, pin = meta["versions"], meta["pinning"]
    scaling = report.stages["scaling"].data if report.ok("scaling") else []
    seed = row(scaling, problem=SEED[0], n=SEED[1], solver="scipy")
    case = (
        f"Seed case: {SEED[0]} n={SEED[1]}, gtol {seed['gtol']:g}, memory {seed['memory_size']}, "
        f"maxiter {seed['maxiter']}."
        if seed
        else "Seed case: not measured (the scaling stage failed)."
    )
    peers = [s for s in solvers_in(scaling) if row(scaling, solver=s).get("peer")]
    return [
        "# When does each L-BFGS solver win?",
        "",
        f"`lbfgs-bench report` ({report.plan}) | jax {v['jax']} | jaxlib {v['jaxlib']} | optax {v['optax']} "
        f"| scipy {v['scipy']} | numpy {v['numpy']} | python {meta['python']}  ",
        f"CPU: {meta['cpu']} ({meta['cpu_count']} logical) | "
        f"{'pinned to CPU ' + str(pin['cpus'][0]) if pin.get('pinned') else 'not pinned'} | "
        f"OPENBLAS_NUM_THREADS={meta['thread_env'].get('OPENBLAS_NUM_THREADS')} | {meta['timestamp_utc']}",
        "",
        f"{case} Seed variants: scipy, optax_loop, optax_while; peers (marked so): "
        f"{', '.join(peers) or 'none'}. Steady = median of precompiled solves with zero compilations checked; "
        "first call (the table below) = a fresh process, JAX's persistent cache off (cold) or filled (warm), "
        "the measurement break-even uses (section 1's first calls clear the caches in one process instead). "
        "Compare ratios within this report, never absolute times across machines.",
        "",
    ]


def render(report: ReportData) -> str:
    lines = [*_intro(report), *headline(report), "", *start_note(report)]
    for name, section in SECTIONS.items():
        stage = report.stages.get(name)
        if stage is None:
            continue
        if stage.error or stage.data is None:
            lines += [f"## {name}: stage failed", "", f"`{stage.error or 'no data'}`", ""]
            continue
        lines += section(report)
        if stage.figure_error:
            lines += [f"(the figure of this stage could not be drawn: `{stage.figure_error}`)", ""]
    lines += ["## Stages", "", "| stage | seconds | outcome |", "|---|---|---|"]
    for stage in report.stages.values():
        outcome = "failed: " + stage.error if stage.error else "ok"
        if stage.figure_error:
            outcome += f"; figure failed: {stage.figure_error}"
        lines.append(f"| {stage.name} | {stage.seconds:.0f} | {outcome} |")
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
    missing = [x for x in figure_names if f"]({x})" not in text]
    if missing:  # every figure written is shown
        text += "\n" + "\n".join(f"![{x}]({x})" for x in missing) + "\n"
    write_json_atomic(outdir / "report.json", to_dict(report))
    atomic_write_text(outdir / "report.md", text)
    return [outdir / "report.json", outdir / "report.md"]
