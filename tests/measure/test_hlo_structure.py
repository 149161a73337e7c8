"""Kernel counts against HLO counted by hand: small calls are one kernel, branches are counted per branch.

Each module below is written out in full; the comments count its kernels by hand (a kernel is a
fusion, copy, custom call, unfused op or small call; parameters, constants, tuples and
get-tuple-elements are free; ``while``/``conditional`` are control; a loop whose trip count XLA
knows runs its body that many times and never its condition, as XLA:CPU's ``WhileThunk`` does,
and a data-dependent loop runs its condition once more than its body). The tests assert the
counter gives exactly those numbers. One test compiles a function whose module XLA writes the
same way and checks the counter against XLA's own dump: one kernel module per non-copy kernel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from lbfgs_impl.measure.hlo import count_kernels, parse_hlo, run_kernels, summarize

# A loop compiled as one small call. ENTRY: copy.6, copy.7 (2 copies), %call (1 small call), %fusion.1
# (1 fusion) = 4 kernels. The while inside %while_comp (its body: 1 fusion + 1 fusion; its condition:
# 1 fusion; 10 trips) is part of the small call's one kernel: 0 more. total_kernels: only ENTRY = 4.
SMALL_CALL = """HloModule small, is_scheduled=true

%fused_body (p0: f64[4]) -> f64[4] {
  %p0 = f64[4]{0} parameter(0)
  ROOT %s = f64[4]{0} sine(%p0)
}

%fused_add (a0: s64[], a1: s64[]) -> s64[] {
  %a0 = s64[] parameter(0)
  %a1 = s64[] parameter(1)
  ROOT %a = s64[] add(%a0, %a1)
}

%fused_lt (c0: s64[], c1: s64[]) -> pred[] {
  %c0 = s64[] parameter(0)
  %c1 = s64[] parameter(1)
  ROOT %lt = pred[] compare(%c0, %c1), direction=LT
}

%fused_sum (q0: f64[4]) -> f64[] {
  %q0 = f64[4]{0} parameter(0)
  %z = f64[] constant(0)
  ROOT %r = f64[] reduce(%q0, %z), dimensions={0}, to_apply=%fused_add
}

%body (t: (s64[], f64[4])) -> (s64[], f64[4]) {
  %t = (s64[], f64[4]{0}) parameter(0)
  %one = s64[] constant(1)
  %i = s64[] get-tuple-element(%t), index=0
  %x = f64[4]{0} get-tuple-element(%t), index=1
  %next = f64[4]{0} fusion(%x), kind=kLoop, calls=%fused_body
  %inc = s64[] fusion(%i, %one), kind=kLoop, calls=%fused_add
  ROOT %out = (s64[], f64[4]{0}) tuple(%inc, %next)
}

%cond (t: (s64[], f64[4])) -> pred[] {
  %t = (s64[], f64[4]{0}) parameter(0)
  %ten = s64[] constant(10)
  %i = s64[] get-tuple-element(%t), index=0
  ROOT %lt = pred[] fusion(%i, %ten), kind=kLoop, calls=%fused_lt
}

%while_comp (t: (s64[], f64[4])) -> (s64[], f64[4]) {
  %t = (s64[], f64[4]{0}) parameter(0)
  ROOT %w = (s64[], f64[4]{0}) while(%t), condition=%cond, body=%body, backend_config=TRIP10
}

ENTRY %main (x: f64[4]) -> f64[] {
  %x = f64[4]{0} parameter(0)
  %zero = s64[] constant(0)
  %copy.6 = f64[4]{0} copy(%x)
  %copy.7 = s64[] copy(%zero)
  %tuple = (s64[], f64[4]{0}) tuple(%copy.7, %copy.6)
  %call = (s64[], f64[4]{0}) call(%tuple), to_apply=%while_comp, frontend_attributes=SMALL
  %y = f64[4]{0} get-tuple-element(%call), index=1
  ROOT %fusion.1 = f64[] fusion(%y), kind=kLoop, calls=%fused_sum
}
""".replace("TRIP10", '{"known_trip_count":{"n":"10"}}').replace("SMALL", '{xla_cpu_small_call="true"}')

# The same module with the call not marked small: the runtime runs the loop, thunk by thunk.
PLAIN_CALL = SMALL_CALL.replace(', frontend_attributes={xla_cpu_small_call="true"}', "")


def test_a_small_call_is_one_kernel():
    _, comps = parse_hlo(SMALL_CALL)
    by_kind = count_kernels(comps["main"])
    assert by_kind == {
        "fusion": 1,
        "small-call": 1,
        "custom-call": 0,
        "copy": 2,
        "other-op": 0,
        "while": 0,
        "conditional": 0,
        "call": 0,
    }
    summary = summarize(SMALL_CALL, loop=False)
    assert summary.iteration.kernels == 4  # copy.6, copy.7, call, fusion.1
    assert summary.iteration.once == 4  # nothing else runs: the loop is inside the small call's kernel
    assert summary.fixed_loops == []
    assert summary.total_kernels == 4  # the loop's body and condition are not thunks
    assert sum(summary.kernels_per_iteration(0.0).values()) == 4


def test_a_plain_call_runs_its_loop_thunk_by_thunk():
    # ENTRY: 2 copies + fusion.1 = 3 kernels; the call runs %while_comp: its while, 10 known trips of
    # the body (2 fusions), the condition never: 10 x 2 = 20.
    summary = summarize(PLAIN_CALL, loop=False)
    assert summary.iteration.kernels == 3
    assert summary.iteration.once == 3 + 20
    assert [(b.trip_count, b.once, b.condition_kernels) for b in summary.fixed_loops] == [(10, 2, 1)]
    assert summary.kernels_per_iteration(0.0) == {
        "iteration body": 3.0,
        "fixed loops": 20.0,
        "line search": 0.0,
    }
    # ENTRY 3 + body 2 + condition 1 (%while_comp holds only the while, a control thunk)
    assert summary.total_kernels == 6


# An outer solve loop whose body holds a conditional and a line search.
#   %iter (the iteration body): %f1, %f2 (2 fusions), %cp (1 copy) = 3 kernels; a conditional; a while
#     with no known trip count (the line search).
#   conditional %pick: branch %cheap = 1 fusion -> 1; branch %dear = 2 fusions + a loop of 3 known
#     trips (body %fbody: 2 fusions; its condition %fcond, 1 fusion, never runs): 2 + 3 x 2 = 8.
#   line search %ls: body %lsbody = 2 fusions; condition %lscond = 1 fusion.
#   outer condition %ocond = 1 fusion.
# One iteration with s line-search passes, cheapest branch: 3 + 1 (branch) + 1 (line-search condition,
#   zero passes) = 5 for the body's pass, + 1 outer condition -> "iteration body" 5 (the line search's
#   own condition goes to "line search"); line search s x (2 + 1) + 1; fixed loops 0 (the 3-trip loop
#   is in %dear only and never added to the iteration).
BRANCHES = """HloModule branches, is_scheduled=true

%fz (p: f64[2]) -> f64[2] {
  %p = f64[2]{0} parameter(0)
  ROOT %n = f64[2]{0} negate(%p)
}

%fp (p: f64[2]) -> pred[] {
  %p = f64[2]{0} parameter(0)
  %z = f64[] constant(0)
  %s = f64[] reduce(%p, %z), dimensions={0}, to_apply=%fsum
  ROOT %c = pred[] compare(%s, %z), direction=LT
}

%fsum (a: f64[], b: f64[]) -> f64[] {
  %a = f64[] parameter(0)
  %b = f64[] parameter(1)
  ROOT %r = f64[] add(%a, %b)
}

%fbody (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  %b1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fz
  ROOT %b2 = f64[2]{0} fusion(%b1), kind=kLoop, calls=%fz
}

%fcond (x: f64[2]) -> pred[] {
  %x = f64[2]{0} parameter(0)
  ROOT %c = pred[] fusion(%x), kind=kLoop, calls=%fp
}

%cheap (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  ROOT %c1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fz
}

%dear (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  %d1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fz
  %d2 = f64[2]{0} fusion(%d1), kind=kLoop, calls=%fz
  ROOT %dw = f64[2]{0} while(%d2), condition=%fcond, body=%fbody, backend_config=TRIP3
}

%lsbody (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  %l1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fz
  ROOT %l2 = f64[2]{0} fusion(%l1), kind=kLoop, calls=%fz
}

%lscond (x: f64[2]) -> pred[] {
  %x = f64[2]{0} parameter(0)
  ROOT %c = pred[] fusion(%x), kind=kLoop, calls=%fp
}

%iter (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  %k = s32[] constant(1)
  %f1 = f64[2]{0} fusion(%x), kind=kLoop, calls=%fz
  %f2 = f64[2]{0} fusion(%f1), kind=kLoop, calls=%fz
  %cp = f64[2]{0} copy(%f2)
  %pick = f64[2]{0} conditional(%k, %cp, %cp), branch_computations={%cheap, %dear}
  ROOT %ls = f64[2]{0} while(%pick), condition=%lscond, body=%lsbody
}

%ocond (x: f64[2]) -> pred[] {
  %x = f64[2]{0} parameter(0)
  ROOT %c = pred[] fusion(%x), kind=kLoop, calls=%fp
}

ENTRY %main (x: f64[2]) -> f64[2] {
  %x = f64[2]{0} parameter(0)
  ROOT %outer = f64[2]{0} while(%x), condition=%ocond, body=%iter
}
""".replace("TRIP3", '{"known_trip_count":{"n":"3"}}')


def test_branches_are_counted_per_branch_with_their_own_loops():
    _, comps = parse_hlo(BRANCHES)
    assert run_kernels("cheap", comps) == 1
    assert run_kernels("dear", comps) == 2 + 3 * 2
    summary = summarize(BRANCHES, loop=True)
    it = summary.iteration
    assert it.name == "iter" and it.kernels == 3 and it.condition_kernels == 1
    assert it.conditionals == [
        {
            "name": "pick",
            "branches": [{"computation": "cheap", "kernels": 1}, {"computation": "dear", "kernels": 8}],
        }
    ]
    assert it.branch_kernels == (1, 8)
    assert it.once == 3 + 1 + 1  # kernels, cheapest branch, the line search's condition (zero passes)
    assert summary.fixed_loops == []  # the 3-trip loop lives in one branch only
    assert summary.line_search is not None and summary.line_search.name == "lsbody"
    assert (summary.line_search.once, summary.line_search.condition_kernels) == (2, 1)
    assert summary.kernels_per_iteration(2.0) == {
        "iteration body": 3 + 1 + 1,  # kernels + cheapest branch + outer condition
        "fixed loops": 0.0,
        "line search": 2 * (2 + 1) + 1,
    }
    # every non-fusion computation once: iter 3, cheap 1, dear 2, fbody 2, fcond 1, lsbody 2,
    # lscond 1, ocond 1, main 0
    assert summary.total_kernels == 13


def test_the_dearest_branch_counts_its_loop_once_per_trip():
    _, comps = parse_hlo(BRANCHES)
    # %iter with the dearest branch: 3 + 8 + 1 (line-search condition)
    assert run_kernels("iter", comps, most=True) == 12
    assert run_kernels("iter", comps) == 5


_DUMPED = """
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
def f(x):
    y = jax.lax.fori_loop(0, 10, lambda i, c: c * 1.0001 + jnp.sin(c), x)
    return jnp.sum(y * y)
print(jax.jit(f).lower(jnp.ones(10)).compile().as_text())
"""


def test_xla_compiles_a_small_call_into_one_kernel_module(tmp_path):
    """XLA's own dump: one ``*_kernel_module`` per fusion and small call, none for the loop inside it."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_dump_to={tmp_path}"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_DUMPED)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    summary = summarize(text, loop=False)
    modules = {
        m.group(1)
        for p in tmp_path.iterdir()
        if "jit_f." in p.name and (m := re.search(r"jit_f\.(\w+)_kernel_module\.ir-no-opt\.ll$", p.name))
    }
    by_kind = summary.iteration.by_kind
    if 'xla_cpu_small_call="true"' in text:
        assert by_kind["small-call"] == 1 and summary.fixed_loops == []
    # XLA writes one kernel module per kernel that is generated code (copies are memcpy thunks)
    assert len(modules) == by_kind["fusion"] + by_kind["small-call"] + by_kind["other-op"]
    assert summary.total_kernels == summary.iteration.kernels + sum(
        b.kernels + b.condition_kernels for b in summary.fixed_loops
    )
