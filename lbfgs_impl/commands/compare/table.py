"""``lbfgs-bench compare``'s table and its JSON form."""

from __future__ import annotations

from typing import Any

from lbfgs_impl.commands.compare.runner import Comparison, ComparisonRow
from lbfgs_impl.measure.instructions import InstructionCounts, InstructionReport
from lbfgs_impl.records import finite_or_none, instruction_fields, thread_pool_fields

TABLE_COLUMNS = (
    "solver",
    "first call (s)",
    "steady (s)",
    "speedup vs scipy",
    "iterations",
    "f+g evals",
    "final loss",
    "grad inf-norm",
    "converged",
)
INSTRUCTION_COLUMNS = ("instructions (M)", "instr/iter (k)", "total (M), thread pool")


def row_to_dict(row: ComparisonRow) -> dict[str, Any]:
    r = row.result
    return {
        "solver": row.solver,
        "problem": row.problem.name,
        "n": row.problem.n,
        "solver_origin": row.origin or None,
        "failed": row.failed,
        "first_call_s": finite_or_none(row.first_call_s),
        "steady_s": finite_or_none(row.steady_s),
        "n_iter": r.n_iter,
        "n_fev": r.n_fev,
        "final_loss": finite_or_none(r.value),
        "grad_inf_norm": finite_or_none(r.grad_inf_norm),
        "converged": r.converged,
        "status": r.status,
        "steady_min_s": row.steady.min_s if row.steady.times_s else None,
        "steady_max_s": row.steady.max_s if row.steady.times_s else None,
        "steady_samples_s": row.steady.times_s,
        "seconds_per_iteration": row.seconds_per_iteration,
        "speedup_vs_scipy": row.speedup_vs_scipy,
        "break_even_solves_vs_scipy": row.break_even_vs_scipy,
        "break_even_note": row.break_even_note or None,
        "first_call_samples": [s._asdict() for s in row.first_call],
        **instruction_fields(row.instructions),
    }


def comparison_to_dict(comparison: Comparison) -> dict[str, Any]:
    """The ``--json`` document: ``{"meta": {...}, "results": [...]}``."""
    return {"meta": comparison.meta, "results": [row_to_dict(r) for r in comparison.rows]}


def _fmt_s(x: float) -> str:
    if x != x:  # nan: a failed row has no timing
        return "-"
    return f"{x:.4f}" if x >= 1e-3 else f"{x:.2e}"


def header_lines(meta: dict[str, Any]) -> list[str]:
    v = meta["versions"]
    pin = meta["pinning"]
    pin_text = f"pinned to CPU {pin['cpus'][0]}" if pin.get("pinned") else "not pinned"
    if pin.get("after_jax_init"):
        pin_text += " (after JAX started: its thread pool was sized for all CPUs)"
    threads = ", ".join(f"{k}={val}" for k, val in meta["thread_env"].items() if val is not None)
    cfg = meta.get("config", {})
    reps = meta.get("repeats", {})
    problem = meta.get("problem", {})
    return [
        f"jax {v['jax']} | jaxlib {v['jaxlib']} | optax {v['optax']} | scipy {v['scipy']} "
        f"| numpy {v['numpy']} | python {meta['python']}",
        f"CPU: {meta['cpu']} ({meta['cpu_count']} logical) | {pin_text} | "
        f"threads: {threads or 'library defaults'} | float64: {meta['jax_enable_x64']}",
        f"problem: {problem.get('name')} n={problem.get('n')} | gtol={cfg.get('gtol')} "
        f"maxiter={cfg.get('maxiter')} memory={cfg.get('memory_size')} | "
        f"steady = median of {reps.get('steady')} precompiled runs (0 compilations checked); "
        f"first call = median of {reps.get('first_call')} cold runs (caches cleared)",
    ]


def _fmt_instructions(counts: InstructionCounts | None) -> tuple[str, str, str]:
    if counts is None or not counts.ok:
        return "failed", "-", "-"
    per_iter = "-" if counts.per_iteration is None else f"{counts.per_iteration / 1e3:.1f}"
    pool = thread_pool_fields(counts)
    total, share = pool["instructions_total"], pool["instructions_thread_pool_share"]
    whole = "-" if total is None or share is None else f"{total / 1e6:.2f}, {share:.1%}"
    return f"{counts.median / 1e6:.2f} ±{counts.spread:.2%}", per_iter, whole


def format_table(comparison: Comparison) -> str:
    """Plain-text table with the header lines above it."""
    report = comparison.instructions
    with_instructions = report is not None and report.skipped is None
    columns = TABLE_COLUMNS + (INSTRUCTION_COLUMNS if with_instructions else ())
    body = []
    for row in comparison.rows:
        r = row.result
        speed = "-" if row.speedup_vs_scipy is None else f"{row.speedup_vs_scipy:.2f}x"
        extra = _fmt_instructions(row.instructions) if with_instructions else ()
        body.append(
            (
                row.solver,
                _fmt_s(row.first_call_s),
                _fmt_s(row.steady_s),
                speed,
                str(r.n_iter),
                str(r.n_fev),
                f"{r.value:.3e}",
                f"{r.grad_inf_norm:.2e}",
                "FAILED" if row.failed else "yes" if r.converged else "NO",
                *extra,
            )
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(columns)]
    lines = [*header_lines(comparison.meta), ""]
    lines.append(" | ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True)))
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body)
    notes = []
    for row in comparison.rows:
        if row.origin and row.origin.get("kind") != "built-in":
            o = row.origin
            where = (
                f"{o['distribution']} {o['version']}"
                if o.get("distribution")
                else "no installed distribution"
            )
            notes.append(f"{row.solver}: plugin {o['target']} ({o['kind']}, {where})")
        if row.solver != "scipy" and row.break_even_vs_scipy is not None:
            notes.append(
                f"{row.solver}: compile {row.compile_s:.3f} s; pays back its first call after "
                f"{row.break_even_vs_scipy} solve(s)"
            )
        elif row.solver != "scipy" and row.break_even_note:
            notes.append(f"{row.solver}: {row.break_even_note}")
        if not row.result.converged:
            notes.append(f"{row.solver}: {row.result.status}")
    if report is not None:
        notes.extend(_instruction_notes(report, comparison.rows))
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines)


def _instruction_notes(report: InstructionReport, rows: list[ComparisonRow]) -> list[str]:
    if report.skipped:
        return [f"instruction counts skipped: {report.skipped}"]
    m = report.meta
    notes = [
        f"instructions: callgrind ({m['valgrind']}), median of {m['repeats']} process(es) "
        "± (max-min)/median, without XLA's thread-pool scheduler (total and its share beside it); "
        f"ASLR {'off' if m['aslr_disabled'] else 'on'}; iterations under valgrind may differ from native"
    ]
    for row in rows:
        c = row.instructions
        if c is None:
            continue
        if c.errors:
            notes.append(f"{row.solver}: instruction count failed: {c.errors[0]}")
        if c.compile_median is not None:
            notes.append(f"{row.solver}: trace+lower+compile {c.compile_median / 1e9:.2f} G instructions")
        if c.n_iter and c.n_iter[0] != row.result.n_iter:
            notes.append(
                f"{row.solver}: {c.n_iter[0]} iterations under valgrind ({row.result.n_iter} native)"
            )
    return notes
