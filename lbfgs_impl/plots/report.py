"""The figures of ``lbfgs-bench report``: one PNG per question, in the suite's one style.

Each function takes the stage's rows (the dicts ``report.json`` holds) and a path,
draws one figure with a title, axes with units, a legend and log axes where the
range calls for it, and writes it atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lbfgs_impl.plots.style import pyplot, save, solver_style

SEED = ("scipy", "optax_loop", "optax_while")


def _name(solver: str) -> str:
    """Legend name: peers are marked, so the seed variants stand apart."""
    return solver if solver in SEED else f"{solver} (peer)"


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def scaling_time(data: list[dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    problems = sorted({r["problem"] for r in data})
    fig, axes = plt.subplots(1, len(problems), figsize=(6 * len(problems), 4.8), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        for (solver,), rows in _by([r for r in data if r["problem"] == problem], "solver").items():
            rows.sort(key=lambda r: r["n"])
            color, marker = solver_style(solver)
            ns = [r["n"] for r in rows]
            ax.plot(
                ns, [r["steady_s"] for r in rows], color=color, marker=marker, label=f"{_name(solver)} steady"
            )
            ax.plot(ns, [r["first_call_s"] for r in rows], color=color, marker=marker, linestyle="--",
                    markerfacecolor="none", label=f"{_name(solver)} first call")  # fmt: skip
        fixed = [r for r in data if r["problem"] == problem and r["fixed_budget"]]
        if fixed:
            budget = sorted({r["n"] for r in fixed})
            iters = ", ".join(str(m) for m in sorted({r["maxiter"] for r in fixed}))
            ax.axvspan(min(budget) / 1.5, max(budget) * 1.5, color="0.9", zorder=0)
            ax.text(min(budget), ax.get_ylim()[0] * 1.5, f" fixed budget:\n {iters} iterations", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("problem size n")
        ax.set_ylabel("seconds per solve")
        ax.set_title(f"{problem}: first call (dashed) and steady state (solid)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    return save(fig, path)


def speedup(curves: list[dict[str, Any]], path: Path) -> Path:
    """One line per (problem, solver, basis) of :func:`~lbfgs_impl.commands.report.stages.speedup_curves`:
    per solve (filled markers) and per iteration at fixed budgets (hollow markers, dash-dot) are never
    joined, so no line and no crossover spans the change of basis. Crossovers marked where found."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for c in curves:
        color, marker = solver_style(c["solver"])
        per_iteration = c["basis"] == "per iteration"
        style = "-." if per_iteration else "-" if c["problem"] == "rosenbrock" else ":"
        pts = c["points"]
        ax.plot([n for n, _ in pts], [s for _, s in pts], color=color, marker=marker, linestyle=style,
                markerfacecolor="none" if per_iteration else color,
                label=f"{_name(c['solver'])}, {c['problem']}, {c['basis']}")  # fmt: skip
        if c["crossover"]:
            ax.annotate(f"crossover n~{c['crossover']:.0f} ({c['basis']})", (c["crossover"], 1.0),
                        textcoords="offset points", xytext=(5, 8), fontsize=8, color=color)  # fmt: skip
    ax.axhline(1.0, color="black", linewidth=1)
    ax.text(ax.get_xlim()[0] if ax.lines else 1, 1.05, " as fast as SciPy", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("problem size n")
    ax.set_ylabel("speedup over SciPy L-BFGS-B (x)")
    ax.set_title(
        "When does the JAX solve win? Steady-state speedup vs size\n"
        "per solve to the stopping rule; per iteration at fixed budgets (hollow): never joined",
        fontsize=10,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return save(fig, path)


def not_converged(row: dict[str, Any]) -> bool:
    """A solve that stopped short of its stopping rule (not at a fixed budget, where stopping is the rule):
    fast for doing less, so kept off every per-iteration and speed comparison, and marked."""
    return not row.get("converged", True) and not row.get("fixed_budget")


def floor(scaling: list[dict[str, Any]], floors: list[dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    problems = sorted({r["problem"] for r in floors})
    fig, axes = plt.subplots(1, len(problems), figsize=(6 * len(problems), 4.8), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        for (solver,), rows in _by([r for r in scaling if r["problem"] == problem], "solver").items():
            rows = sorted((r for r in rows if r.get("seconds_per_iteration")), key=lambda r: r["n"])
            color, marker = solver_style(solver)
            kept = [r for r in rows if not not_converged(r)]
            ax.plot([r["n"] for r in kept], [1e6 * r["seconds_per_iteration"] for r in kept], color=color,
                    marker=marker, label=f"{_name(solver)}: one iteration")  # fmt: skip
            for r in (r for r in rows if not_converged(r)):  # marked apart, joined to nothing
                ax.plot([r["n"]], [1e6 * r["seconds_per_iteration"]], color=color, marker=marker,
                        linestyle="none", markerfacecolor="none", markersize=10,
                        label=f"{_name(solver)}: did not converge (not compared)")  # fmt: skip
                where = (r["n"], 1e6 * r["seconds_per_iteration"])
                ax.annotate(f"did not converge\n({r['n_iter']} iterations)", where,
                            textcoords="offset points", xytext=(6, -14), fontsize=7, color=color)  # fmt: skip
        f = sorted((r for r in floors if r["problem"] == problem), key=lambda r: r["n"])
        ax.plot([r["n"] for r in f], [1e6 * r["seconds_per_evaluation"] for r in f], color="black",
                linestyle="--", marker="x", label="one full f+g evaluation in XLA (the floor)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("problem size n")
        ax.set_ylabel("microseconds")
        ax.set_title(f"{problem}: time per iteration vs one evaluation")
        ax.grid(alpha=0.3, which="both")
    return _save_with_legend_below(fig, list(axes[0]), path)  # inside a panel it covered the floor line


def _save_with_legend_below(fig: Any, axes: list[Any], path: Path) -> Path:
    """One legend for all ``axes``, below the panels (inside, it hid the data), then save."""
    labelled = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(text, handle)
    rows = -(-len(labelled) // 3)
    fig.tight_layout(rect=(0, 0.02 + 0.045 * rows, 1, 1))
    fig.legend(list(labelled.values()), list(labelled), loc="lower center", ncol=3, fontsize=8, frameon=False)
    return save(fig, path, layout=False)


_PLAIN = {"fc": "white", "ec": "none", "pad": 1}  # a white box behind text drawn on a hatched bar


def break_even(rows: list[dict[str, Any]], path: Path) -> Path:
    """Solves to break even, cold and warm cache: one panel per (problem, n), each on a linear axis
    from 0; "never" written where a converged variant never catches up, "not computed" where a
    solve did not converge (the runs did different work)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    cases = list(dict.fromkeys((r["problem"], r["n"]) for r in rows))
    fig, axes = plt.subplots(len(cases), 1, figsize=(10, 1.4 + 2.8 * len(cases)), squeeze=False)
    series = (
        # cache states, not solvers: colours no solver has (the solvers are the x-axis)
        (-0.2, "break_even_cold", "tab:red", "cold compilation cache (vs SciPy cold)"),
        (0.2, "break_even_warm", "tab:cyan", "warm persistent cache (vs SciPy warm)"),
    )
    for ax, (problem, n) in zip(axes[:, 0], cases, strict=True):
        mine = [r for r in rows if (r["problem"], r["n"]) == (problem, n)]
        finite = [r[k] for r in mine for _, k, _, _ in series if r[k] is not None]
        top = max(finite, default=1) * 1.25
        for offset, key, color, _ in series:
            for x, r in enumerate(mine):
                value = r[key]
                if not r.get("converged", True):  # no break-even: the solves did different work
                    ax.bar(x + offset, top, width=0.4, color="none", edgecolor="gray", hatch="..", lw=0.8)
                    ax.annotate("not computed", (x + offset, top * 0.5), ha="center", va="center", fontsize=8,
                                rotation=90, color="dimgray", bbox=_PLAIN)  # fmt: skip
                elif value is None:  # an outlined, hatched bar to the top: the variant never catches up
                    ax.bar(x + offset, top, width=0.4, color="none", edgecolor=color, hatch="//", lw=0.8)
                    ax.annotate("never", (x + offset, top * 0.5), ha="center", va="center", fontsize=9,
                                rotation=90, color=color)  # fmt: skip
                else:
                    ax.bar(x + offset, value, width=0.4, color=color)
                    ax.annotate(str(value), (x + offset, value), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(mine)), [_name(r["solver"]).replace(" (", "\n(") for r in mine], fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole solves
        ax.set_ylim(0, top * 1.08)
        ax.set_title(f"{problem} n={n}", fontsize=10)
        ax.set_ylabel("solves until total\ntime <= SciPy's", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    handles = [Patch(color=color, label=name) for _, _, color, name in series]
    axes[0, 0].legend(handles=handles, fontsize=8)
    fig.suptitle("Break-even: first call (fresh process) paid back by faster solves")
    return save(fig, path)


def batch_outcome(converged: int, b: int) -> str:
    """How many of a batch's ``b`` members converged, in words: "" when all did."""
    if converged >= b:
        return ""
    return f"did not converge (0/{b})" if converged == 0 else f"{converged}/{b} converged"


def _batch_series(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, list[tuple[int, float, int]]]]:
    """(label, solver, linestyle, [(B, seconds, members converged)]) for every line of the batched figure."""
    out = [
        ("optax_while under jax.vmap (one call)", "optax_while", "-",
         [(r["B"], r["vmap_s"], r["converged_members"]) for r in rows]),
        ("B sequential optax_while solves", "optax_while", ":",
         [(r["B"], r["sequential_jit_s"], r["converged_sequential_jit"]) for r in rows]),
        ("B sequential SciPy solves", "scipy", ":",
         [(r["B"], r["sequential_scipy_s"], r["converged_scipy"]) for r in rows]),
    ]  # fmt: skip
    peers = dict.fromkeys(p for r in rows for p, v in r.get("peers", {}).items() if "unsupported" not in v)
    for peer in peers:  # the peers' vmapped solves, dashed
        got = [(r["B"], r["peers"][peer]) for r in rows if "vmap_s" in r.get("peers", {}).get(peer, {})]
        out.append(
            (
                f"{peer} (peer) under jax.vmap",
                peer,
                "--",
                [(b, v["vmap_s"], v["converged_members"]) for b, v in got],
            )
        )
    return out


def batched(rows: list[dict[str, Any]], path: Path) -> Path:
    """Total and per-solve time of each way of solving B starts; each solver in its colour. A point where
    not every member converged is drawn hollow with "k/B converged"; a line whose largest batch converged
    no member says "did not converge" in its legend, as the headline does."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.6))
    for label, solver, line, pts in _batch_series(rows):
        color, marker = solver_style(solver)
        last = batch_outcome(pts[-1][2], pts[-1][0]) if pts else ""
        name = f"{label}: {last}" if last.startswith("did not") else label
        for ax, scale in ((ax1, lambda t, b: t), (ax2, lambda t, b: 1e3 * t / b)):
            ys = [scale(t, b) for b, t, _ in pts]
            ax.plot([b for b, _, _ in pts], ys, color=color, marker=marker, linestyle=line, label=name)
            for (b, _, k), y in zip(pts, ys, strict=True):
                if k < b:  # members that did not converge: hollow, and how many did
                    ax.plot([b], [y], marker=marker, color=color, markerfacecolor="white", markersize=9,
                            linestyle="none")  # fmt: skip
                    ax.annotate(batch_outcome(k, b), (b, y), textcoords="offset points", xytext=(4, 4),
                                fontsize=7, color=color)  # fmt: skip
    for ax, ylabel, title in (
        (ax1, "seconds for all B solves", "Total time for B seed-case solves"),
        (ax2, "milliseconds per solve", "Time per solve"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size B (starting points)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(
        "Hollow markers: not every member converged (||g||_inf <= gtol at its final point)", fontsize=9
    )
    return _save_with_legend_below(fig, [ax1, ax2], path)


def convergence_label(solver: str, trace: dict[str, Any]) -> str:
    """The legend name of a trace; one that is another solver's path says whose, and how it is timed."""
    source = trace.get("reconstructed_from")
    if not source:
        return solver
    return f"{solver}: {source}'s path (reconstructed), its solve's time spread evenly"


def convergence(traces: dict[str, dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharey="row")
    for solver, t in traces.items():
        color, _ = solver_style(solver)
        its = range(1, len(t["loss"]) + 1)
        label = convergence_label(solver, t)
        style = {"color": color, "label": label, "linestyle": "--" if t.get("reconstructed_from") else "-"}
        axes[0][0].plot(its, t["loss"], **style)
        axes[1][0].plot(its, t["grad"], **style)
        axes[0][1].plot(1e3 * _arr(t["time_s"]), t["loss"], **style)
        axes[1][1].plot(1e3 * _arr(t["time_s"]), t["grad"], **style)
    for row, ylabel in ((0, "loss f(x)"), (1, "gradient inf-norm")):
        for col, xlabel in ((0, "iteration"), (1, "wall time since start (ms, steady state)")):
            ax = axes[row][col]
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    axes[1][0].axhline(1e-5, color="black", linewidth=0.8, linestyle=":")
    axes[1][1].axhline(1e-5, color="black", linewidth=0.8, linestyle=":")
    axes[1][1].set_xscale("log")
    axes[0][1].set_xscale("log")
    fig.suptitle(
        "Convergence on the seed case (rosenbrock n=100): loss and gradient, by iteration and by time"
        + "".join(
            f"\n{solver} (dashed): {t['reconstructed_from']}'s path, reconstructed (a compiled "
            "loop cannot be observed from inside)"
            for solver, t in traces.items()
            if t.get("reconstructed_from")
        )
    )
    return save(fig, path)


def _arr(values: list[float]) -> Any:
    import numpy as np

    return np.asarray(values)
