"""explain.md's generated sentences carry each solver's caveats (accepted steps, dense BFGS)."""

from __future__ import annotations

from lbfgs_impl.commands.explain.document import findings, section_floor
from lbfgs_impl.measure.attribution import CATEGORY_KEYS


def _part(n_iter: int, n_fev: int) -> dict:
    per = {k: 0.0 for k in CATEGORY_KEYS}
    per["xla_runtime"] = 40_000.0
    shares = {k: float(k == "xla_runtime") for k in CATEGORY_KEYS if k != "scheduler"}
    floor = {"times_floor": 2.0, "per_iteration": 20_000.0, "evaluations_per_iteration": 1.0}
    return {"n_iter": n_iter, "n_fev": n_fev, "per_iteration": per, "total": 1.0, "net": 1.0,
            "net_per_iteration": 40_000.0, "shares_of_net": shares, "floor": floor}  # fmt: skip


STATIC = {"kernels_per_iteration_total": 180, "hlo": {"iteration": {"kernels": 23, "by_kind": {"copy": 1}}}}


def _doc(*solvers: str) -> dict:
    return {
        "config": {"memory_size": 10},
        "callgrind": {
            "solvers": {s: _part(520, 616) for s in solvers},
            "floor": {"evaluation": 1.0, "algebra": 1.0, "probe_repetitions": [200, 400]},
        },
        "static": {"solvers": {s: STATIC for s in solvers}},
    }


def test_accepted_step_iterations_are_said_to_skew_the_per_kernel_figure():
    lines = findings(_doc("optimistix_lbfgs", "optax_while"))
    (opt,) = [x for x in lines if x.startswith("optimistix_lbfgs: the XLA/PJRT runtime")]
    assert "616 evaluations for 520 iterations" in opt
    (ow,) = [x for x in lines if x.startswith("optax_while: the XLA/PJRT runtime")]
    assert "accepted steps" not in ow


def test_dense_bfgs_is_marked_against_the_lbfgs_floor():
    text = "\n".join(section_floor(_doc("jax_scipy_bfgs", "optax_while")))
    assert "| jax_scipy_bfgs | 1.00 | 20,000 | 40,000 | 2.0 (L-BFGS floor) |" in text
    assert "| optax_while | 1.00 | 20,000 | 40,000 | 2.0 |" in text
    assert "jax_scipy_bfgs: dense BFGS" in text


def test_a_solve_that_did_not_converge_is_said_so():
    doc = _doc("jax_scipy_bfgs", "optax_while")
    doc["static"]["solvers"]["jax_scipy_bfgs"] = {**STATIC, "converged": False}
    lines = findings(doc)
    (bad,) = [x for x in lines if x.startswith("**jax_scipy_bfgs**")]
    assert "This solve did not converge (520 iterations)" in bad
    assert all("did not converge" not in x for x in lines if x.startswith("**optax_while**"))


def test_the_per_kernel_figure_uses_the_kernels_counted_when_there_are():
    doc = _doc("optimistix_lbfgs", "optax_while")
    for part in doc["callgrind"]["solvers"].values():
        part["kernels_counted_per_iteration"] = 250.5
    lines = findings(doc)
    (opt,) = [x for x in lines if x.startswith("optimistix_lbfgs: the XLA/PJRT runtime")]
    runtime = doc["callgrind"]["solvers"]["optimistix_lbfgs"]["per_iteration"]["xla_runtime"]
    assert f"spends {runtime / 250.5:,.0f} instructions per kernel" in opt
    assert "over 250.5 kernels" in opt and "at least" not in opt
    assert "accepted steps" not in opt  # counted kernels are those the solve ran: nothing to correct
