"""explain.md from explain.json's data: the rules, a table per solver, the findings in sentences."""

from __future__ import annotations

from typing import Any

from lbfgs_impl.measure.attribution import CATEGORIES, LABELS


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def section_rules() -> list[str]:
    lines = [
        "## How instructions are attributed",
        "",
        "Each function callgrind counted goes to the first category whose rule matches its object file "
        "(`ob=`) and symbol; the categories add up to callgrind's total.",
        "",
        "| category | rule |",
        "|---|---|",
    ]
    lines += [f"| {c.label} | {c.rule} |" for c in CATEGORIES]
    return [*lines, ""]


def section_categories(doc: dict[str, Any]) -> list[str]:
    cg = doc["callgrind"]
    lines = ["## Instructions per iteration by category", ""]
    if "skipped" in cg:
        return [*lines, f"Skipped: {cg['skipped']}.", ""]
    solvers = list(cg["solvers"])
    lines += ["| category | " + " | ".join(solvers) + " |", "|---|" + "---:|" * len(solvers)]
    for c in CATEGORIES:
        cells = []
        for s in solvers:
            part = cg["solvers"][s]
            value = part["per_iteration"][c.key]
            share = part["shares_of_net"].get(c.key)
            cells.append(f"{value:,.0f}" + (f" ({_pct(share)})" if share is not None else " (apart)"))
        lines.append(f"| {c.label} | " + " | ".join(cells) + " |")
    lines.append(
        "| **without the scheduler** | "
        + " | ".join(f"**{cg['solvers'][s]['net_per_iteration']:,.0f}**" for s in solvers)
        + " |"
    )
    lines.append(
        "| iterations counted | " + " | ".join(str(cg["solvers"][s]["n_iter"]) for s in solvers) + " |"
    )
    lines += [
        "",
        "Shares are of the count without the thread-pool scheduler (whose idle spinning depends "
        "on how valgrind interleaves threads and is shown apart).",
        "",
        "![instructions by category](explain_categories.png)",
        "",
    ]
    return lines


def section_top(doc: dict[str, Any]) -> list[str]:
    cg = doc["callgrind"]
    if "skipped" in cg:
        return []
    lines = [f"## Top functions per category (`--top {doc['top']}`)", ""]
    for solver, part in cg["solvers"].items():
        lines += [
            f"### {solver}",
            "",
            "| category | function | object | instructions per iteration |",
            "|---|---|---|---:|",
        ]
        iters = max(part["n_iter"], 1)
        for c in CATEGORIES:
            for entry in part["top"].get(c.key, []):
                fn = entry["function"].replace("|", "\\|")
                fn = fn if len(fn) <= 80 else fn[:77] + "..."
                obj = entry["object"].rsplit("/", 1)[-1]
                lines.append(f"| {c.label} | `{fn}` | `{obj}` | {entry['instructions'] / iters:,.0f} |")
        lines.append("")
    return lines


def _cost_cell(figures: dict[str, Any]) -> str:
    """``flops / bytes``, or the recorded reason they are missing (older records: ``n/a``)."""
    if figures.get("flops") is None:
        return figures.get("cost_missing") or "n/a"
    return f"{figures['flops']:,.0f} / {figures['bytes_accessed']:,.0f}"


def _cost_text(figures: dict[str, Any]) -> str:
    if figures.get("flops") is None:
        return f"flops and bytes {figures.get('cost_missing') or 'missing'}"
    return f"{figures['flops']:,.0f} flops, {figures['bytes_accessed']:,.0f} bytes"


def _branches(body: dict[str, Any] | None) -> str:
    """Kernels of each branch of each conditional of a body (``a/b`` per conditional), ``-`` if none."""
    if not body or not body.get("conditionals"):
        return "-"
    return ", ".join("/".join(str(b["kernels"]) for b in c["branches"]) for c in body["conditionals"])


def _counted(part: dict[str, Any] | None) -> str:
    """Kernels counted per iteration under callgrind, or ``-`` (not counted, or an older record)."""
    value = (part or {}).get("kernels_counted_per_iteration")
    return "-" if value is None else f"{value:,.1f}"


def section_static(doc: dict[str, Any]) -> list[str]:
    st = doc["static"]
    vg = st["value_and_grad"]
    lines = [
        "## What XLA runs per iteration (static, from the optimised HLO)",
        "",
        "Kernels: fusions + small calls + custom calls + copies + unfused ops of a computation (each one "
        "thunk on XLA:CPU; a call XLA marks `xla_cpu_small_call` is compiled, loops and all, into one "
        "kernel); flops/bytes: XLA's cost analysis of that computation (nested loops counted once, as "
        "XLA does). Branches: the kernels each branch of a conditional runs (its loops included, in that "
        "branch only), per conditional. Kernels per iteration = the iteration's body + each fixed-trip "
        "loop (the two-loop recursion) at its trip count (XLA:CPU never runs the condition of such a "
        "loop) + line-search passes x the line-search body and its condition, each with the cheapest "
        "branch of each conditional: an estimate, exact where every pass takes the cheapest branch and "
        "each evaluation is one line-search pass. Counted: the kernels XLA executed in the counted "
        "solve (callgrind's calls of each thunk's `Execute`, control thunks left out) per iteration, "
        "branches and passes as they ran.",
        "",
        "| solver | how | iteration body kernels (fusion/small call/copy/custom/other) | branches "
        "| line-search body kernels | line-search branches | fixed loops (trip x kernels) "
        "| kernels per iteration | counted | flops / bytes per iteration body | evaluations per iteration "
        "| dispatches per iteration |",
        "|---|---|---:|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    counted = doc.get("callgrind", {}).get("solvers", {})
    for solver, s in st["solvers"].items():
        if "error" in s:
            lines.append(f"| {solver} | failed: {s['error']} |" + " |" * 10)
            continue
        it, ls = s["hlo"]["iteration"], s["hlo"]["line_search"]
        k = it["by_kind"]
        fixed = ", ".join(f"{b['trip_count']}x{b.get('once', b['kernels'])}" for b in s["hlo"]["fixed_loops"])
        flops = _cost_cell(it)
        lines.append(
            f"| {solver} | {s['kind']} | {it['kernels']} ({k['fusion']}/{k.get('small-call', 0)}/{k['copy']}/"
            f"{k['custom-call']}/{k['other-op']}) | {_branches(it)} | {ls['kernels'] if ls else '-'} | "
            f"{_branches(ls)} | {fixed or '-'} | {s['kernels_per_iteration_total']:,.0f} | "
            f"{_counted(counted.get(solver))} | {flops} | "
            f"{s['evaluations_per_iteration']:.2f} | {s['dispatches_per_iteration']:.3g} |"
        )
    vit = vg["iteration"]
    lines += [
        "",
        f"One `value_and_grad` of the problem: {vit['kernels']} kernels, {_cost_text(vg)} "
        "(XLA's cost analysis).",
        "",
        "![kernels per iteration](explain_kernels.png)",
        "",
    ]
    return lines


def _floor_intro(doc: dict[str, Any], fl: dict[str, Any], arithmetic: bool) -> str:
    """What the floor counts, with its two figures (and, for newer records, the probes' whole count)."""
    repeats = (
        f"each the difference of {fl['probe_repetitions'][1]} and {fl['probe_repetitions'][0]} dependent "
        "repetitions in one jitted loop, divided by their difference"
    )
    if arithmetic:
        return (
            f"One value_and_grad inside XLA: {fl['evaluation']:,.0f} instructions of arithmetic; one L-BFGS "
            f"two-loop recursion (m = {doc['config']['memory_size']}, the 1/(s.y) kept from earlier "
            f"iterations): {fl['algebra']:,.0f} ({repeats}). Arithmetic = the instructions of XLA-generated "
            "code and XLA library kernels only: the probes' own runtime dispatch (each thunk of their "
            "loops, run one by one) and the copies of their loop-carried state are left out; with them "
            f"a repetition cost {fl['evaluation_whole']:,.0f} and {fl['algebra_whole']:,.0f} instructions. "
            "Each kernel's own entry code (and a library kernel's set-up) stays in. Floor per iteration = "
            "evaluations per iteration x one evaluation + one recursion; a solver's own arithmetic is its "
            "instructions in the same two categories, with SciPy's compiled L-BFGS-B and BLAS."
            + _probe_kernels(fl)
        )
    return (
        f"One value_and_grad inside XLA: {fl['evaluation']:,.0f} instructions; one L-BFGS two-loop "
        f"recursion (m = {doc['config']['memory_size']}, the 1/(s.y) kept from earlier iterations): "
        f"{fl['algebra']:,.0f} ({repeats}: no dispatch from Python, the probes' own runtime dispatch and "
        "copies included). Floor per iteration = evaluations per iteration x one evaluation + one "
        "recursion."
    )


def _probe_kernels(fl: dict[str, Any]) -> str:
    if fl.get("evaluation_kernels") is None or fl.get("algebra_kernels") is None:
        return ""
    return (
        f" Kernels XLA executed per repetition (counted): {fl['evaluation_kernels']:,.0f} and "
        f"{fl['algebra_kernels']:,.0f}."
    )


def section_floor(doc: dict[str, Any]) -> list[str]:
    cg = doc["callgrind"]
    if "skipped" in cg:
        return []
    fl = cg["floor"]
    lines = ["## The arithmetic floor", ""]
    if fl["evaluation"] is None or fl["algebra"] is None:
        return [*lines, "The floor's probes failed; their errors are listed under Errors below.", ""]
    arithmetic = "counts" in fl  # older explain.json files counted everything the probes ran
    lines.append(_floor_intro(doc, fl, arithmetic))
    lines += [
        "",
        "| solver | evaluations per iteration | floor per iteration | measured per iteration | x floor |"
        + (" its arithmetic per iteration | arithmetic x floor |" if arithmetic else ""),
        "|---|---:|---:|---:|---:|" + ("---:|---:|" if arithmetic else ""),
    ]
    dense = []
    for solver, part in cg["solvers"].items():
        f = part.get("floor")
        if f:
            mark = " (L-BFGS floor)" if _solver_flag(solver, "dense_hessian") else ""
            dense += [solver] if mark else []
            own = (
                f" {f['arithmetic_per_iteration']:,.0f} | {f['arithmetic_times_floor']:.2f} |"
                if arithmetic
                else ""
            )
            lines.append(
                f"| {solver} | {f['evaluations_per_iteration']:.2f} | {f['per_iteration']:,.0f} | "
                f"{part['net_per_iteration']:,.0f} | {f['times_floor']:.1f}{mark} |{own}"
            )
    if dense:
        lines += [
            "",
            f"{', '.join(dense)}: dense BFGS, whose algebra is an n x n matrix update per iteration, not "
            "the m-pair recursion of this floor: against its own algebra it would sit closer to its floor.",
        ]
    return [*lines, ""]


def _solver_flag(name: str, flag: str) -> bool:
    """A solver's class attribute (``dense_hessian``, ``iterations_are_accepted_steps``); False if unknown."""
    from lbfgs_impl.solvers import SOLVERS

    solver = SOLVERS.get(name)
    return bool(getattr(solver, flag, False))


def findings(doc: dict[str, Any]) -> list[str]:
    """Sentences generated from the figures (nothing here is fixed text about a particular result)."""
    out: list[str] = []
    cg, st = doc["callgrind"], doc["static"]["solvers"]
    if "skipped" in cg:
        out.append(f"Instruction attribution skipped: {cg['skipped']}; the static figures below still hold.")
        cg = {"solvers": {}}
    for solver, part in cg["solvers"].items():
        shares = part["shares_of_net"]
        ranked = sorted(shares, key=lambda k: -shares[k])
        lead = ", ".join(f"{LABELS[k]} {_pct(shares[k])}" for k in ranked[:3] if shares[k] > 0)
        f = part.get("floor")
        floor = f" = {f['times_floor']:.1f}x its arithmetic floor ({f['per_iteration']:,.0f})" if f else ""
        if f and f.get("arithmetic_times_floor") is not None:
            floor += f", its own arithmetic {f['arithmetic_times_floor']:.2f}x"
        out.append(
            f"**{solver}**: an iteration costs {part['net_per_iteration']:,.0f} instructions{floor}; {lead}."
        )
        if st.get(solver, {}).get("converged") is False:
            out[-1] += (
                f" This solve did not converge ({part['n_iter']} iterations): its per-iteration figures "
                "spread one solve's set-up over few iterations and are not those of a working iteration."
            )
        if f and f["times_floor"] is not None and f["times_floor"] < 1:
            out.append(
                f"{solver} runs **below the floor**: the floor is this suite's own evaluation and "
                "two-loop recursion, each counted inside XLA, not a proof of minimum work; this "
                "solver's evaluations or recursion (or its evaluation count, which counts calls, "
                "some of which may skip the gradient) cost less than the probes'."
            )
        kernels = part.get("kernels_counted_per_iteration")
        how = "" if kernels else "at least "  # older records: the static lower bound
        kernels = kernels or st.get(solver, {}).get("kernels_per_iteration_total", 0)
        runtime = part["per_iteration"]["xla_runtime"]
        if kernels and runtime:
            out.append(
                f"{solver}: the XLA/PJRT runtime spends {runtime / kernels:,.0f} instructions per "
                f"kernel executed ({runtime:,.0f} per iteration over {how}{kernels:,.{0 if how else 1}f} "
                "kernels)."
            )
            if how and _solver_flag(solver, "iterations_are_accepted_steps"):
                out[-1] += (
                    f" Its iterations are accepted steps while its loop body runs once per step "
                    f"({part['n_fev']:,} evaluations for {part['n_iter']:,} iterations): the kernels per "
                    "iteration undercount and the instructions per kernel overcount by about that ratio."
                )
    out += [f"**{what}** failed: {message} (see Errors)." for what, message in errors(doc)]
    out += _comparisons(cg["solvers"])
    for solver, s in st.items():
        if "error" in s:
            continue
        it = s["hlo"]["iteration"]
        if it["kernels"] and it["by_kind"]["copy"] >= 0.25 * it["kernels"]:
            ranked = sorted(it["copy_sources"].items(), key=lambda kv: -kv[1])
            sources = ", ".join(f"{count} {name}" for name, count in ranked)
            out.append(
                f"{solver}: {it['by_kind']['copy']} of the {it['kernels']} kernels in the iteration body are "
                f"`copy` ops (copying: {sources}), each a thunk the runtime executes every iteration."
            )
    return out


def _comparisons(parts: dict[str, Any]) -> list[str]:
    out = []
    if "optax_loop" in parts and "optax_while" in parts:
        loop, whl = parts["optax_loop"], parts["optax_while"]
        out.append(
            f"CPython: {loop['per_iteration']['cpython']:,.0f} instructions per iteration in optax_loop "
            f"({_pct(loop['shares_of_net']['cpython'])}) against {whl['per_iteration']['cpython']:,.0f} "
            f"in optax_while ({_pct(whl['shares_of_net']['cpython'])})."
        )
    for solver, part in parts.items():
        sched = part["per_iteration"]["scheduler"] * max(part["n_iter"], 1)
        if part["total"] and sched / part["total"] > 0.05:
            out.append(
                f"{solver}: the thread-pool scheduler's idle spinning was {_pct(sched / part['total'])} "
                "of everything counted (left out of the shares)."
            )
    return out


def errors(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """``(what, first line of its error)`` of every solver or probe that failed, static part first."""
    out = [
        (f"{name} (static figures)", s["error"])
        for name, s in doc["static"]["solvers"].items()
        if "error" in s
    ]
    for task, messages in doc["callgrind"].get("errors", {}).items():
        out += [(f"{task} (callgrind)", m) for m in messages]
    return [(what, (message.strip().splitlines() or [""])[0]) for what, message in out]


def section_errors(doc: dict[str, Any]) -> list[str]:
    found = errors(doc)
    if not found:
        return []
    lines = ["## Errors", "", "What failed; everything else in this document was measured without it.", ""]
    return [*lines, *(f"- {what}: {message}" for what, message in found), ""]


def render(doc: dict[str, Any]) -> str:
    """The whole explain.md."""
    lines = [
        f"# Where an iteration's instructions go: {doc['problem']} n={doc['n']}",
        "",
        f"Solvers: {', '.join(doc['solvers'])}. Instruction counts are callgrind's (load-independent, "
        "one process per solver); static figures come from each executable's optimised HLO.",
        "",
        "## Findings",
        "",
    ]
    lines += [f"- {s}" for s in findings(doc)]
    lines.append("")
    for section in (section_errors, section_categories, section_floor, section_static, section_top):
        lines += section(doc)
    lines += section_rules()
    return "\n".join(lines)
