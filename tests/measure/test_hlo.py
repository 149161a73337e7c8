"""Static HLO figures: the parser against a count made by hand from ``as_text()``, stability, cost."""

from __future__ import annotations

import re

import jax
import pytest

from lbfgs_impl.measure.hlo import count_kernels, parse_hlo, reroot, summarize, xla_cost
from lbfgs_impl.problems import make_problem
from lbfgs_impl.solvers import SolverConfig, get_solver


def _compiled_text() -> str:
    prepared = get_solver("optax_while").prepare(make_problem("quadratic", 5), SolverConfig())
    prepared.compile()
    return prepared._solve.as_text()


@pytest.fixture(scope="module")
def text() -> str:
    return _compiled_text()


def _block(text: str, name: str) -> list[str]:
    """The lines of computation ``name``, cut out of the text by hand."""
    start = next(
        i for i, line in enumerate(text.splitlines()) if re.match(rf"(ENTRY )?%{re.escape(name)} \(", line)
    )
    lines = text.splitlines()[start + 1 :]
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("}"))]


def _hand_count(lines: list[str]) -> dict[str, int]:
    """Instructions per opcode as a person would count them: `= <shape> <opcode>(` on each line."""
    counts = {"fusion": 0, "copy": 0, "custom-call": 0, "while": 0, "conditional": 0}
    for line in lines:
        for op in counts:
            if re.search(rf"\) {op}\(|\}} {op}\(|\] {op}\(", line):
                counts[op] += 1
    return counts


def test_kernel_counts_match_a_hand_count_from_as_text(text):
    entry_lines = _block(text, re.search(r"^ENTRY %(\S+) ", text, re.M).group(1))
    outer = next(line for line in entry_lines if " while(" in line)
    body_name = re.search(r"body=%([\w.\-]+)", outer).group(1)
    body = _block(text, body_name)
    ls_line = next(line for line in body if " while(" in line and "known_trip_count" not in line)
    ls_body = _block(text, re.search(r"body=%([\w.\-]+)", ls_line).group(1))

    summary = summarize(text, loop=True)
    assert summary.iteration.name == body_name
    assert summary.line_search is not None
    for got, lines in ((summary.iteration, body), (summary.line_search, ls_body)):
        hand = _hand_count(lines)
        for op, n in hand.items():
            assert got.by_kind[op] == n, (got.name, op)
        # kernels run in the body (fusions) or, on older XLA (the line search), in its conditionals' branches
        assert got.by_kind["fusion"] > 0 or got.branch_kernels[1] > 0
        assert sum(got.copy_sources.values()) == got.by_kind["copy"]
    # the two-loop recursion: two loops with XLA's known trip count = memory size, each run by the
    # runtime or (at small n) compiled by XLA:CPU into one kernel, a small call
    small = sum('xla_cpu_small_call="true"' in line for line in body)
    assert summary.iteration.by_kind["small-call"] == small
    assert len(summary.fixed_loops) + small == 2
    assert [b.trip_count for b in summary.fixed_loops] == [10] * len(summary.fixed_loops)
    parts = summary.kernels_per_iteration(line_search_steps=1.0)
    assert parts["fixed loops"] >= 20 * len(summary.fixed_loops)
    assert parts["iteration body"] >= summary.iteration.kernels


def test_kernel_counts_are_stable_across_compilations(text):
    jax.clear_caches()
    again = _compiled_text()
    assert summarize(again, loop=True).to_dict() == summarize(text, loop=True).to_dict()


def test_cost_analysis_of_one_body(text):
    summary = summarize(text, loop=True, cost=xla_cost)
    assert summary.flops and summary.flops > 0
    assert 0 < summary.iteration.flops <= summary.flops
    assert summary.line_search.flops < summary.iteration.flops
    assert reroot(text, summary.iteration.name).count("\nENTRY ") == 1
    assert xla_cost("not HLO", "x") == (None, None)


def test_parser_on_a_written_module():
    text = """HloModule m, is_scheduled=true

%fused (p: f64[2]) -> f64[2] {
  %p = f64[2]{0} parameter(0)
  ROOT %n = f64[2]{0} negate(%p)
}

%b1 (a: f64[2]) -> f64[2] {
  %a = f64[2]{0} parameter(0)
  ROOT %c = f64[2]{0} copy(%a)
}

%b2 (a: f64[2]) -> f64[2] {
  %a = f64[2]{0} parameter(0)
  ROOT %f = f64[2]{0} fusion(%a), kind=kLoop, calls=%fused
}

ENTRY %main (x: f64[2], k: s32[]) -> (f64[2], f64[2]) {
  %x = f64[2]{0} parameter(0)
  %k = s32[] parameter(1)
  %f1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fused
  %cc = (f64[2]{0}, s32[]) custom-call(%x), custom_call_target="foo"
  %d = f64[2]{0} conditional(%k, %x, %x), branch_computations={%b1, %b2}
  ROOT %t = (f64[2]{0}, f64[2]{0}) tuple(%f1, %d)
}
"""
    entry, comps = parse_hlo(text)
    assert entry == "main" and set(comps) == {"fused", "b1", "b2", "main"}
    assert count_kernels(comps["main"]) == {
        "fusion": 1,
        "small-call": 0,
        "custom-call": 1,
        "copy": 0,
        "other-op": 0,
        "while": 0,
        "conditional": 1,
        "call": 0,
    }
    summary = summarize(text, loop=False)
    assert summary.iteration.kernels == 2 and summary.iteration.branch_kernels == (1, 1)
    assert summary.total_kernels == 4  # main's 2 + one per branch; the fusion body is not counted
