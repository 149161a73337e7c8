"""What the report's figures and headline say on known inputs: solver colours, marks on solves that did not
converge, one measurement per column, one basis per speedup curve, which start, whose path. No timings."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.colors import to_rgba

import lbfgs_impl.plots.report as plots
from lbfgs_impl.commands.report import stages
from lbfgs_impl.commands.report.data import ReportData, StageResult
from lbfgs_impl.commands.report.document import render
from lbfgs_impl.plots.style import SOLVER_STYLE


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report's plotting functions draw, kept open instead of written."""
    figures: list[Any] = []

    def keep(fig, path, **kwargs):
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save", keep)
    return figures


def _report() -> ReportData:
    versions = {k: "x" for k in ("jax", "jaxlib", "optax", "scipy", "numpy")}
    meta = {"versions": versions, "python": "3", "cpu": "c", "cpu_count": 2, "pinning": {"pinned": False},
            "thread_env": {}, "timestamp_utc": "t"}  # fmt: skip
    return ReportData("tiny", meta)


def _labelled_lines(fig) -> dict[str, Any]:
    lines = [line for ax in fig.axes for line in ax.lines]
    return {line.get_label(): line for line in lines if not line.get_label().startswith("_")}


# --------------------------------------------------------------------------- the reconstructed trace

TRACE = {"loss": [3.0, 1.0], "grad": [2.0, 1e-6], "time_s": [0.001, 0.002]}


def test_the_reconstructed_convergence_trace_is_labelled_so(drawn, tmp_path):
    traces = {"optax_loop": TRACE, "optax_while": {**TRACE, "reconstructed_from": "optax_loop"}}
    plots.convergence(traces, tmp_path / "c.png")
    labels = list(_labelled_lines(drawn[0]))
    assert "optax_loop" in labels
    (while_label,) = [x for x in labels if x.startswith("optax_while")]
    assert "optax_loop's path (reconstructed)" in while_label
    assert "reconstructed" in drawn[0]._suptitle.get_text()
    report = _report()
    report.stages["convergence"] = StageResult("convergence", {"optax_loop": TRACE, "optax_while": TRACE})
    text = render(report)  # a report.json written before the field: optax_while's trace is still named so
    assert "Observed: optax_loop," in text and "Reconstructed, not observed: optax_while" in text


# --------------------------------------------------------------------------- one colour per solver


def _colour(solver: str) -> tuple[float, ...]:
    return to_rgba(SOLVER_STYLE[solver][0])


@pytest.fixture
def drawn_profiles(monkeypatch):
    import lbfgs_impl.plots.profiles as profile_plots

    figures: list[Any] = []
    monkeypatch.setattr(profile_plots, "save", lambda fig, path, **kw: figures.append(fig) or path)
    return figures


COSTS = {"optax_while": [1.0, 4.0, None], "scipy": [2.0, 1.0, 3.0], "jaxopt_lbfgs": [1.5, 2.0, 30.0]}


def test_profiles_draw_each_solver_in_its_colour_whatever_the_order(drawn_profiles, tmp_path):
    from lbfgs_impl.plots.profiles import plot_profile, plot_profiles_at

    plot_profile(COSTS, "evaluations", 3, tmp_path / "p.png")
    plot_profile(dict(reversed(COSTS.items())), "evaluations", 3, tmp_path / "q.png")
    plot_profiles_at({1e-1: COSTS, 1e-7: {"scipy": [2.0, 1.0, 3.0], "optax_while": [1.0, 1.1, 1.2]}},
                     "evaluations", 3, tmp_path / "r.png")  # fmt: skip
    for fig in drawn_profiles:
        for ax in fig.axes:
            lines = [x for x in ax.lines if not x.get_label().startswith("_")]
            assert lines
            for line in lines:
                assert to_rgba(line.get_color()) == _colour(line.get_label()), line.get_label()


def test_tolerance_panels_share_one_x_range_and_name_tol_apart_from_the_ratio(drawn_profiles, tmp_path):
    import lbfgs_impl.profiles
    from lbfgs_impl.plots.profiles import plot_profiles_at

    # the ratios reach 10 at the loose tolerance, 2 at the tight one: one x-range all the same
    plot_profiles_at({1e-1: COSTS, 1e-7: {"scipy": [2.0, 1.0, 3.0], "optax_while": [1.0, 1.1, 1.2]}},
                     "evaluations", 3, tmp_path / "r.png")  # fmt: skip
    loose, tight = drawn_profiles[0].axes
    assert loose.get_xlim() == tight.get_xlim() and loose.get_xlim()[1] > 3.32  # log2(10) = 3.32
    for ax, tol in ((loose, "0.1"), (tight, "1e-07")):
        assert ax.get_title() == f"success tolerance tol = {tol}" and "tau" not in ax.get_title()
        assert "tau: performance ratio" in ax.get_xlabel() and "tol" not in ax.get_xlabel()
    # the success rule's words call its tolerance tol; tau is the performance ratio only
    doc = lbfgs_impl.profiles.__doc__
    assert "``f - f* <= tol (f(x0) - f*)``" in doc and "tau (f(x0)" not in doc and "tau max(1" not in doc


BATCH = {
    "B": 4, "n": 100, "repeats": 1, "vmap_s": 0.1, "sequential_jit_s": 0.2, "sequential_scipy_s": 0.4,
    "converged_members": 4, "converged_sequential_jit": 4, "converged_scipy": 4, "scipy_iterations": [5] * 4,
    "member_iterations_min": 5, "member_iterations_max": 9, "same_iterations_vmap_vs_sequential": 4,
    "peers": {"jaxopt_lbfgs": {"vmap_s": 0.3, "sequential_jit_s": 0.5, "converged_members": 4,
                               "converged_sequential_jit": 4, "member_iterations_min": 5,
                               "member_iterations_max": 9, "same_iterations_vmap_vs_sequential": 4}},
}  # fmt: skip


def test_the_batched_figure_draws_each_solver_in_its_colour(drawn, tmp_path):
    plots.batched([BATCH, {**BATCH, "B": 16}], tmp_path / "b.png")
    lines = _labelled_lines(drawn[0])
    expected = {"optax_while": "optax_while", "SciPy": "scipy", "jaxopt_lbfgs": "jaxopt_lbfgs"}
    for label, line in lines.items():
        (solver,) = [s for word, s in expected.items() if word in label]
        assert to_rgba(line.get_color()) == _colour(solver), label
    assert any("sequential optax_while" in x for x in lines)


def test_bars_of_cache_states_use_no_solvers_colour_and_explain_names_solvers_in_theirs(drawn, tmp_path):
    rows = [{"solver": "optax_loop", "problem": "rosenbrock", "n": 100, "break_even_cold": 4,
             "break_even_warm": 3, "converged": True}]  # fmt: skip
    plots.break_even(rows, tmp_path / "b.png")
    solver_colours = {_colour(s) for s in SOLVER_STYLE}
    bars = [p for ax in drawn[0].axes for p in ax.patches]
    assert bars and all(to_rgba(p.get_facecolor()) not in solver_colours for p in bars)
    import lbfgs_impl.plots.explain as explain_plots

    kept: list[Any] = []
    explain_plots.save = lambda fig, path, **kw: kept.append(fig) or path  # restored below
    try:
        explain_plots.kernels({"scipy": {"evaluations": 3.0}, "optax_while": {"evaluations": 2.0}}, "t",
                              tmp_path / "k.png")  # fmt: skip
    finally:
        import lbfgs_impl.plots.style

        explain_plots.save = lbfgs_impl.plots.style.save
    assert all(to_rgba(p.get_facecolor()) not in solver_colours for p in kept[0].axes[0].patches)
    assert not {to_rgba(c) for c in explain_plots.CATEGORY_COLOURS.values()} & solver_colours
    ticks = kept[0].axes[0].get_xticklabels()
    assert [(t.get_text(), to_rgba(t.get_color())) for t in ticks] == [
        ("scipy", _colour("scipy")), ("optax_while", _colour("optax_while"))
    ]  # fmt: skip


# --------------------------------------------------------------------------- solves that did not converge


def _scaling_row(solver, n, *, peer=False, fixed=False, converged=True, n_iter=50, steady=0.01, first=1.0):
    return {
        "problem": "rosenbrock", "n": n, "solver": solver, "fixed_budget": fixed, "maxiter": 10_000,
        "gtol": 1e-5, "memory_size": 10, "peer": peer, "first_call_s": first, "compile_s": 0.5,
        "steady_s": steady, "n_iter": n_iter, "n_fev": n_iter + 5, "converged": converged,
        "seconds_per_iteration": steady / n_iter, "steady_samples": 1, "first_call_compilations": 1,
    }  # fmt: skip


def _floor_report() -> ReportData:
    rows = [
        _scaling_row(s, n, peer=s == "jax_scipy_bfgs", steady=0.01 if s == "scipy" else 0.005)
        for n in (100, 1000)
        for s in ("scipy", "optax_while", "jax_scipy_bfgs")
    ]
    failed = next(r for r in rows if r["solver"] == "jax_scipy_bfgs" and r["n"] == 100)
    failed.update(converged=False, n_iter=2, n_fev=3, steady_s=0.004, seconds_per_iteration=0.002)
    floors = [{"problem": "rosenbrock", "n": n, "point": "x0 + 0.5", "method": "(t(2N) - t(N)) / N",
               "evaluations_timed": 10, "seconds_per_evaluation": 1e-6} for n in (100, 1000)]  # fmt: skip
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    report.stages["floor"] = StageResult("floor", floors)
    return report


def test_the_floor_marks_a_solve_that_did_not_converge_and_leaves_it_out_of_the_comparison(drawn, tmp_path):
    report = _floor_report()
    text = render(report)
    table = [x for x in text.splitlines() if x.startswith("| rosenbrock | 100 | 1.000 |")]
    (failed,) = [x for x in table if "jax_scipy_bfgs" in x]
    assert "| jax_scipy_bfgs (peer) (did not converge: 2 iterations) |" in failed
    assert failed.endswith("| not compared |")
    seed = next(x for x in text.splitlines() if x.startswith("At rosenbrock n=100 one evaluation costs"))
    assert "optax_while" in seed and "jax_scipy_bfgs" not in seed  # not among the overheads compared
    assert (
        "Not compared per iteration (marked in the figure and the table): rosenbrock n=100 jax_scipy" in text
    )
    plots.floor(report.stages["scaling"].data, report.stages["floor"].data, tmp_path / "f.png")
    lines = _labelled_lines(drawn[0])
    assert list(lines["jax_scipy_bfgs (peer): one iteration"].get_xdata()) == [1000]
    marked = lines["jax_scipy_bfgs (peer): did not converge (not compared)"]
    assert list(marked.get_xdata()) == [100] and marked.get_linestyle() == "None"
    assert list(lines["optax_while: one iteration"].get_xdata()) == [100, 1000]
    assert any("did not converge" in t.get_text() for t in drawn[0].axes[0].texts)


def test_the_batched_figure_and_headline_say_a_batch_that_converged_nothing_did_not_converge(drawn, tmp_path):
    peer = {**BATCH["peers"]["jaxopt_lbfgs"], "converged_members": 0, "converged_sequential_jit": 0}
    rows = [{**BATCH, "converged_members": 3, "peers": {"jaxopt_lbfgs": peer}}]
    plots.batched(rows, tmp_path / "b.png")
    lines = _labelled_lines(drawn[0])
    assert "jaxopt_lbfgs (peer) under jax.vmap: did not converge (0/4)" in lines
    assert "optax_while under jax.vmap (one call)" in lines  # 3 of 4: not "did not converge", but marked
    texts = {t.get_text() for ax in drawn[0].axes for t in ax.texts}
    assert {"3/4 converged", "did not converge (0/4)"} <= texts
    hollow = [x for ax in drawn[0].axes for x in ax.lines if x.get_markerfacecolor() == "white"]
    assert len(hollow) == 2 * 2  # optax_while's vmap and the peer's, in both panels
    report = _report()
    report.stages["scaling"] = StageResult(
        "scaling",
        [_scaling_row(s, 100, peer=s == "jaxopt_lbfgs") for s in ("scipy", "optax_while", "jaxopt_lbfgs")],
    )
    report.stages["batched"] = StageResult("batched", rows)
    text = render(report)
    headline = {x.split("|")[1].strip(): x for x in text.splitlines() if x.startswith("| ")}
    assert headline["jaxopt_lbfgs (peer)"].rstrip().endswith("| did not converge (0/4) |")
    assert headline["optax_while"].rstrip().endswith("| 4.0x (3/4 converged) |")
    assert "- jaxopt_lbfgs (peer): vmap 0.300 s (did not converge (0/4))" in text


# --------------------------------------------------------------------------- one basis per curve


def _two_bases() -> list[dict[str, Any]]:
    """Per solve at n = 100, 1000 (optax_while 2x and 1.5x faster), per iteration at the fixed budget
    n = 10^4 (2x slower): joined, the curve would cross 1 between 1000 and 10^4."""
    rows = []
    for n, fixed, (t_scipy, t_mine) in ((100, False, (0.02, 0.01)), (1000, False, (0.03, 0.02)),
                                        (10_000, True, (0.1, 0.2))):  # fmt: skip
        rows += [
            _scaling_row("scipy", n, fixed=fixed, converged=not fixed, steady=t_scipy),
            _scaling_row("optax_while", n, fixed=fixed, converged=not fixed, steady=t_mine),
        ]
    return rows


def test_no_speedup_curve_or_crossover_joins_per_solve_and_per_iteration(drawn, tmp_path):
    rows = _two_bases()
    assert stages.crossovers(rows)["rosenbrock"]["optax_while"] is None
    curves = stages.speedup_curves(rows)
    assert [(c["basis"], [n for n, _ in c["points"]]) for c in curves] == [
        ("per solve", [100, 1000]), ("per iteration", [10_000])
    ]  # fmt: skip
    plots.speedup(curves, tmp_path / "s.png")
    for line in _labelled_lines(drawn[0]).values():
        xs = list(line.get_xdata())
        assert not (min(xs) <= 1000 < 10_000 <= max(xs)), (line.get_label(), xs)
    assert not any("crossover" in t.get_text() for t in drawn[0].axes[0].texts)
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    text = render(report)
    assert "SciPy's speed near" not in text and "1 at n~" not in text
    assert "- rosenbrock, optax_while, per iteration: speedup over SciPy from 0.50x (n=10000)" in text
    headline = {x.split("|")[1].strip(): x for x in text.splitlines() if x.startswith("| ")}
    cell = headline["optax_while"].split("|")[-3]
    assert cell.strip().startswith(
        "per solve: faster at every measured n=100-1000; per iteration: slower at every measured n=10000"
    )


def test_the_crossover_column_carries_the_iteration_gap_caveat():
    rows = _two_bases()
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    headline = {x.split("|")[1].strip(): x for x in render(report).splitlines() if x.startswith("| ")}
    assert "iterations differ" not in headline["optax_while"]  # 50 against 50 everywhere
    rows[3]["n_iter"] = 20  # optax_while at n=1000: 20 against SciPy's 50 iterations
    headline = {x.split("|")[1].strip(): x for x in render(report).splitlines() if x.startswith("| ")}
    assert (
        "iterations differ > 2x from SciPy's at n=1000 (20 vs 50): the speedup there counts them"
        in (headline["optax_while"].split("|")[-3])
    )


# --------------------------------------------------------------------------- one measurement per column


def _break_even_row(solver, cold, warm, steady, scipy=(1.25, 0.75, 0.01)):
    from lbfgs_impl.measure.timing import break_even_solves

    row = {"problem": "rosenbrock", "n": 100, "maxiter": 10_000, "solver": solver, "samples": 3,
           "steady_s": steady, "scipy_steady_s": scipy[2], "converged": True, "note": ""}  # fmt: skip
    for label, mine, theirs in (("cold", cold, scipy[0]), ("warm", warm, scipy[1])):
        row |= {f"{label}_first_call_s": mine, f"{label}_spread_s": [mine, mine],
                f"scipy_{label}_first_call_s": theirs, f"scipy_{label}_spread_s": [theirs, theirs],
                f"{label}_cache_hits": [0], f"{label}_backend_compiles": [1],
                f"break_even_{label}": break_even_solves(mine, steady, theirs, scipy[2])}  # fmt: skip
    return row


def _cells(text: str) -> dict[str, dict[str, str]]:
    lines = [x for x in text.splitlines() if x.startswith("| ")]
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    return {
        cells[0]: dict(zip(header, cells, strict=True))
        for cells in ([c.strip() for c in x.split("|")[1:-1]] for x in lines[1:])
        if len(cells) == len(header)
    }


def test_break_even_can_be_recomputed_from_the_headlines_own_columns():
    from lbfgs_impl.measure.timing import break_even_solves

    # the scaling stage's in-process first calls (1.0 s each) are another measurement than the fresh
    # processes break-even timed: the headline must show the latter
    rows = [_scaling_row(s, 100, steady={"scipy": 0.01, "optax_while": 0.002, "optax_loop": 0.008}[s])
            for s in ("scipy", "optax_while", "optax_loop")]  # fmt: skip
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    report.stages["break_even"] = StageResult(
        "break_even", [_break_even_row("optax_while", 3.5, 0.875, 0.002), _break_even_row("optax_loop", 2.25,
                                                                                         1.5, 0.008)]
    )  # fmt: skip
    table = _cells(render(report))
    scipy = table["scipy"]
    firsts = [h for h in scipy if h.startswith("first call")]
    cold = next(h for h in firsts if "warm" not in h)
    warm = next((h for h in firsts if "warm" in h), None)  # checked after the cold column
    for solver in ("optax_while", "optax_loop"):
        mine = table[solver]
        for label, column in (("cold", cold), ("warm", warm)):
            assert column is not None, f"no first-call column for the {label} break-even"
            again = break_even_solves(
                float(mine[column]), float(mine["steady (ms)"]) / 1e3,
                float(scipy[column]), float(scipy["steady (ms)"]) / 1e3,
            )  # fmt: skip
            shown = mine[f"break-even, {label} cache"]
            assert shown == ("never" if again is None else f"{again} solve{'' if again == 1 else 's'}"), (
                solver, label, shown, again,
            )  # fmt: skip
    assert table["optax_while"][cold] == "3.5" and table["scipy"][warm] == "0.75"


# --------------------------------------------------------------------------- which start


def test_the_headline_says_which_start_and_what_changes_from_perturbed_starts():
    rows = [
        _scaling_row("scipy", 100, n_iter=500, steady=0.05),
        _scaling_row("optax_while", 100, n_iter=505, steady=0.01),
        _scaling_row("jaxopt_lbfgs", 100, peer=True, n_iter=49, steady=0.001),  # ~50 iterations from x0 = 0
    ]
    peer = {**BATCH["peers"]["jaxopt_lbfgs"], "member_iterations_min": 450, "member_iterations_max": 610,
            "sequential_jit_s": 0.2}  # fmt: skip
    batch = {**BATCH, "member_iterations_min": 480, "member_iterations_max": 530,
             "scipy_iterations": [470, 520], "peers": {"jaxopt_lbfgs": peer}}  # fmt: skip
    report = _report()
    report.stages["scaling"] = StageResult("scaling", rows)
    text = render(report)
    assert (
        "Start: the table's steady times, speedups and break-even solve rosenbrock n=100 from x0 = 0." in text
    )
    assert "Not checked from other starts" in text
    report.stages["batched"] = StageResult("batched", [batch])
    text = render(report)
    assert "Checked from the batched stage's 4 perturbed starts (x0 = 0 + U[-0.5, 0.5] per coordinate" in text
    assert "scipy 500 iterations from x0 = 0, 470-520 from these" in text
    assert (
        "jaxopt_lbfgs (peer) 49 iterations from x0 = 0, 450-610 from these (converged 4/4); speedup over "
        "SciPy 50.00x from x0 = 0, 2.00x over these (from x0 = 0 it takes > 2x fewer or more iterations"
    ) in text
    assert "optax_while 505 iterations from x0 = 0, 480-530 from these (converged 4/4); speedup over SciPy " \
        "5.00x from x0 = 0, 2.00x over these;" in text  # fmt: skip
