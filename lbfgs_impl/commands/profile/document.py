"""``lbfgs-bench profile``'s outputs: ``results.json``, ``profile.md`` and one PNG per metric."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lbfgs_impl.commands.profile.runner import METRICS, ProfileRun, success_table, to_dict, winners
from lbfgs_impl.outputs import atomic_write_text, write_json_atomic
from lbfgs_impl.plots.profiles import plot_profile, plot_profiles_at
from lbfgs_impl.profiles import PROFILE_TOLS, SUCCESS_TOL, success_rule_text


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def markdown(run: ProfileRun, figures: Sequence[str]) -> str:
    # long function: profile.md top to bottom, one flat list of sections.
    lines = ["# Robustness on the Moré-Garbow-Hillstrom set", ""]
    meta = run.meta
    if meta.get("versions"):
        v = meta["versions"]
        lines += [
            f"jax {v.get('jax')} | optax {v.get('optax')} | scipy {v.get('scipy')} | CPU: {meta.get('cpu')} "
            f"| pinned: {(meta.get('pinning') or {}).get('cpus', 'no')}",
            "",
        ]
    lines += [
        f"Success: {success_rule_text()}, with f* MGH's published minimum (the same rule for every solver; "
        "a local minimum or a stop elsewhere is a failure). Steady time: median of "
        f"{meta.get('repeats', '?')} precompiled runs. Profiles charge each solver up to its first "
        "evaluation that meets the test (Moré and Wild), read from one untimed traced solve checked to "
        "take the timed solve's path; time and instructions are the whole solve's scaled by that share of "
        "its evaluations. "
        f"The profiles at tolerances {', '.join(f'{t:g}' for t in PROFILE_TOLS)} replace {SUCCESS_TOL:g} by "
        "each in both tests.",
        "",
        "## Success rate",
        "",
        "| solver | solved | rate |",
        "|---|---|---|",
    ]
    lines += [f"| {s} | {k}/{n} | {k / n:.0%} |" for s, k, n in success_table(run)]
    for s, reason in run.skipped_solvers.items():
        lines.append(f"| {s} | skipped: {reason} | - |")
    for p, reason in run.excluded_problems.items():
        lines.append(f"\n- {p}: {reason}")
    other_path = [
        r for r in run.runs if r.instructions_n_iter is not None and r.instructions_n_iter != r.n_iter
    ]
    if other_path:  # iterations only: a counted solve's evaluations are not counted (the row has them)
        lines.append(
            f"\nCounted solves whose iterations differ from the timed solve's, so on another path "
            f"({len(other_path)}; built for valgrind's instruction set, their rounding differs): "
            + ", ".join(
                f"{r.solver} on {r.problem} ({r.instructions_n_iter} counted, {r.n_iter} timed iterations)"
                for r in other_path
            )
            + ". Their instructions to success scale the counted solve's total by the timed solve's "
            "share of evaluations."
        )
    models = run.timed_on()
    if len(models) > 1:
        lines += [
            "",
            f"Timed rows come from {len(models)} CPU models; times are compared only within one model "
            "(every problem was timed on one machine, all its solvers together), one time profile per model: "
            + "; ".join(
                f"cpu{i}: {m or 'unrecorded'} ({len(p)} problems)"
                for i, (m, p) in enumerate(sorted(models.items()), start=1)
            )
            + ". The success rates and the instruction profile do not depend on the machine.",
        ]
    lines += ["", "## Profile winners (share of problems where the solver was the cheapest, rho(1))", ""]
    for metric in METRICS:
        if run.has(metric):
            ranked = ", ".join(f"{s} {v:.0%}" for s, v in winners(run, metric))
            lines.append(f"- {METRICS[metric][1]}: {ranked}")
    lines += [""]
    lines += [f"![{f}]({f})" for f in figures]
    lines += [
        "",
        "## Every run",
        "",
        f"| problem | n | solver | f(x) | f* | minimum reached | iterations | f+g evals | evals to success "
        f"({SUCCESS_TOL:g}) | steady (ms) | solved |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in run.runs:
        first = r.fev_to_success.get(f"{SUCCESS_TOL:g}")
        what = r.minimum_reached or (f"error: {r.error}" if r.error else "-")
        steady = None if r.steady_s is None else r.steady_s * 1e3
        lines.append(
            f"| {r.problem} | {r.n} | {r.solver} | {_fmt(r.value, '.6g')} | {_fmt(r.f_star, '.6g')} | {what} "
            f"| {_fmt(r.n_iter, 'd')} | {_fmt(r.n_fev, 'd')} | {_fmt(first, 'd')} "
            f"| {_fmt(steady, '.3f')} | "
            f"{'yes' if r.solved else 'no'} |"
        )
    if any(s.startswith("optimistix") for s in run.solvers):
        lines += [
            "",
            "optimistix: iterations are accepted steps (its budget caps accepted steps at maxiter); its "
            "rejected steps evaluate the value only, and each counts in f+g evals as one evaluation.",
        ]
    return "\n".join(lines) + "\n"


def write_outputs(run: ProfileRun, outdir: Path) -> list[Path]:
    """``results.json``, ``profile.md`` and one ``profile_<metric>.png`` per available metric."""
    outdir.mkdir(parents=True, exist_ok=True)
    figures = []
    models = run.timed_on()
    for metric in METRICS:
        if not run.has(metric):
            continue
        if metric == "time" and len(models) > 1:  # ratios only within one CPU model: one profile each
            for i, (model, problems) in enumerate(sorted(models.items()), start=1):
                name = f"profile_time_cpu{i}.png"
                label = f"{METRICS[metric][1]} on {model or 'an unrecorded CPU'}, tolerance {SUCCESS_TOL:g}"
                plot_profile(run.costs(metric, problems=problems), label, len(problems), outdir / name)
                figures.append(name)
            continue
        name = f"profile_{metric}.png"
        label = f"{METRICS[metric][1]}, tolerance {SUCCESS_TOL:g}"
        plot_profile(run.costs(metric), label, len(run.problems), outdir / name)
        figures.append(name)
    if run.has("evaluations"):
        name = "profile_evaluations_by_tolerance.png"
        by_tol = {t: run.costs("evaluations", t) for t in PROFILE_TOLS}
        plot_profiles_at(by_tol, METRICS["evaluations"][1], len(run.problems), outdir / name)
        figures.append(name)
    write_json_atomic(outdir / "results.json", to_dict(run))
    atomic_write_text(outdir / "profile.md", markdown(run, figures))
    return [outdir / "results.json", outdir / "profile.md", *(outdir / f for f in figures)]
