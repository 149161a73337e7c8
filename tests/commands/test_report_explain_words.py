"""The report's explain section says which floor its data holds (the wording follows the data)."""

from types import SimpleNamespace

from lbfgs_impl.commands.report.explain_section import section_explain


def _report(floor: dict) -> SimpleNamespace:
    part = {"shares_of_net": {}, "net_per_iteration": 1000.0, "floor": floor}
    doc = {
        "problem": "rosenbrock",
        "n": 100,
        "solvers": ["optax_while"],
        "static": {"solvers": {"optax_while": {"kernels_per_iteration_total": 240, "converged": True}}},
        "callgrind": {"solvers": {"optax_while": part}},
    }
    return SimpleNamespace(stages={"explain": SimpleNamespace(data=doc)})


def test_an_arithmetic_floor_is_described_as_arithmetic():
    text = "\n".join(section_explain(_report({"times_floor": 6.7, "arithmetic_times_floor": 1.6})))
    assert "the probes' dispatch and copies left out" in text
    assert "predates" not in text


def test_an_old_whole_count_floor_is_named_as_such():
    text = "\n".join(section_explain(_report({"times_floor": 2.3})))
    assert "counted whole" in text and "predates the arithmetic-only floor" in text


def test_a_run_that_counted_nothing_describes_no_floor_data():
    report = _report({})
    report.stages["explain"].data["callgrind"] = {"skipped": "not counted in this plan"}
    text = "\n".join(section_explain(report))
    assert "not counted in this run" in text and "predates" not in text
