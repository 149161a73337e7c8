"""Section 7 of ``report.md``: the seed case's breakdown from ``lbfgs-bench explain``."""

from __future__ import annotations

from lbfgs_impl.commands.report.data import ReportData


def _f(x: float | None, spec: str) -> str:
    import math

    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def section_explain(report: ReportData) -> list[str]:
    """The seed case's breakdown from ``lbfgs-bench explain`` (its files are in ``explain/``)."""
    doc = report.stages["explain"].data
    static, cg = doc["static"]["solvers"], doc["callgrind"]
    counted = cg.get("solvers", {}) if "skipped" not in cg else {}
    arithmetic = any("arithmetic_times_floor" in ((p or {}).get("floor") or {}) for p in counted.values())
    if not counted:
        floor_words = "evaluations per iteration x the floor's probes (not counted in this run)"
    elif arithmetic:
        floor_words = (
            "evaluations per iteration x the arithmetic of one value_and_grad plus one two-loop recursion "
            "(XLA's generated code and library kernels; the probes' dispatch and copies left out)"
        )
    else:
        floor_words = (
            "evaluations per iteration x one value_and_grad plus one two-loop recursion, each counted "
            "whole (dispatch and copies included: this explain run predates the arithmetic-only floor)"
        )
    lines = [
        f"## 7. Where an iteration goes on the seed case ({doc['problem']} n={doc['n']})",
        "",
        "From `lbfgs-bench explain` (whole document: [explain/explain.md](explain/explain.md)). Kernels "
        "per iteration: what XLA executes per iteration by the optimised HLO (an estimate: cheapest "
        "branches, one line-search pass per evaluation); instructions per iteration: callgrind's count "
        f"of one solve, thread-pool scheduler left out; x floor: against {floor_words}.",
        "",
    ]
    if "skipped" in cg:
        lines += [f"Instruction breakdown: {cg['skipped']}.", ""]
    lines += [
        "| solver | kernels per iteration | dispatches per iteration | instructions per iteration "
        "| x floor | largest shares |",
        "|---|---:|---:|---:|---:|---|",
    ]
    from lbfgs_impl.measure.attribution import LABELS

    for solver in doc["solvers"]:
        st, part = static.get(solver, {}), counted.get(solver)
        if part:
            shares = part["shares_of_net"]
            top = ", ".join(
                f"{LABELS[k]} {100 * shares[k]:.0f}%" for k in sorted(shares, key=lambda k: -shares[k])[:3]
            )
            floor = (part.get("floor") or {}).get("times_floor")
            counts = f"{part['net_per_iteration']:,.0f} | {_f(floor, '.1f')} | {top}"
        else:
            counts = "- | - | -"
        name = solver
        if st.get("converged") is False:  # per-iteration figures of a short, failed solve are mostly set-up
            name += f" (did not converge: {st.get('n_iter')} iterations)"
        lines.append(
            f"| {name} | {_f(st.get('kernels_per_iteration_total'), '.0f')} "
            f"| {_f(st.get('dispatches_per_iteration'), '.3g')} | {counts} |"
        )
    lines += ["", "![explain/explain_kernels.png](explain/explain_kernels.png)", ""]
    if counted:
        lines += ["![explain/explain_categories.png](explain/explain_categories.png)", ""]
    return lines
