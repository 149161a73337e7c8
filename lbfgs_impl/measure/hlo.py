"""What XLA runs per iteration, read statically from a compiled executable's optimised HLO (``as_text()``).

Nothing is run. On XLA's CPU backend every instruction of a computation that is
not a pure naming/bookkeeping op (:data:`FREE_OPCODES`) becomes one thunk the
runtime executes: a fusion, a custom call, a copy, a single unfused op or a
*small call* (together: *kernels*), or a control thunk (``while``,
``conditional``, ``call``) that runs other computations. Fusion bodies are one
kernel each and are not looked into; so is a ``call`` marked
``xla_cpu_small_call="true"``: XLA:CPU compiles the called computation, loops
included, into one kernel (``call_computation_kernel_module`` in XLA's dump), so
the loops inside it are not thunks.

For a solve compiled as one executable (``optax_while``, the peers) the
*iteration* is the body of the outermost ``while`` in ``ENTRY``; the *line
search* is the loop nested in it with no known trip count and the most kernels;
loops with a known trip count (the two-loop recursion over the memory) are
*fixed loops*. A loop inside a conditional's branch belongs to that branch: it
is counted with the branch, never with the body holding the conditional, and
each conditional is reported branch by branch. XLA's cost analysis (flops, bytes
accessed) of a body is that of the module re-rooted at that body, as XLA reports
it (nested loops counted once; :mod:`lbfgs_impl.measure.hlo_cost`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# XLA's cost analysis lives beside this module; its names are part of this one's interface
from lbfgs_impl.measure.hlo_cost import Cost, cost_api, reroot, xla_cost, xla_cost_or_reason  # noqa: F401

#: opcodes that produce no thunk (naming, tuples, constants folded into the executable)
FREE_OPCODES = frozenset(
    {
        "parameter",
        "constant",
        "get-tuple-element",
        "tuple",
        "bitcast",
        "after-all",
        "opt-barrier",
        "add-dependency",
        "partition-id",
        "replica-id",
    }
)
CONTROL_OPCODES = frozenset({"while", "conditional", "call"})
_HEADER = re.compile(r"^(ENTRY )?%(\S+) \(.*\{$")
_INSTR = re.compile(r"^\s+(?:ROOT )?%(\S+) = (.*)$")
_CALLS = re.compile(r"\b(body|condition|to_apply|calls)=%([\w.\-]+)")
_BRANCHES = re.compile(r"branch_computations=\{([^}]*)\}|(true|false)_computation=%([\w.\-]+)")
_TRIP = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
_SMALL_CALL = re.compile(r'\bxla_cpu_small_call="true"')


@dataclass
class Instruction:
    name: str
    opcode: str
    calls: dict[str, list[str]]
    trip_count: int | None = None
    operands: str = ""
    small_call: bool = False


def _opcode(rest: str) -> str:
    """The opcode after the result shape (``f64[5]{0}`` or a parenthesised tuple shape)."""
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                rest = rest[i + 1 :]
                break
    else:
        rest = rest.split(" ", 1)[1] if " " in rest else ""
    return rest.strip().split("(", 1)[0]


def parse_hlo(text: str) -> tuple[str, dict[str, list[Instruction]]]:
    """``(entry name, {computation name: its instructions})`` of an HLO module's text."""
    computations: dict[str, list[Instruction]] = {}
    entry, current = "", None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            current = computations.setdefault(header.group(2), [])
            entry = header.group(2) if header.group(1) else entry
            continue
        if line.startswith("}"):
            current = None
            continue
        m = _INSTR.match(line) if current is not None else None
        if m is None or current is None:
            continue
        rest = m.group(2)
        calls: dict[str, list[str]] = {}
        for key, target in _CALLS.findall(rest):
            calls.setdefault(key, []).append(target)
        for listed, _, single in _BRANCHES.findall(rest):
            names = [s.strip().lstrip("%") for s in listed.split(",")] if listed else [single]
            calls.setdefault("branches", []).extend(n for n in names if n)
        trip = _TRIP.search(rest)
        opcode = _opcode(rest)
        operands = rest.split(f" {opcode}(", 1)[-1].split(")", 1)[0]
        small = opcode == "call" and bool(_SMALL_CALL.search(rest))
        trip_count = int(trip.group(1)) if trip else None
        current.append(Instruction(m.group(1), opcode, calls, trip_count, operands, small))
    return entry, computations


@dataclass
class BodySummary:
    """The thunks of one computation (not counting what nested loops and branches run).

    Attributes:
      kernels: fusions + custom calls + copies + unfused ops.
      by_kind: counts of ``fusion``, ``custom-call``, ``copy``, ``other-op`` and the control ops
        ``while``, ``conditional``, ``call``.
      trip_count: XLA's known trip count of the loop this is the body of (``None``: data-dependent).
      condition_kernels: kernels of the loop's condition (run once more than the body; never where the
        trip count is known).
      branch_kernels: (fewest, most) kernels the body's conditionals run, summed over its
        conditionals (each takes one branch per pass), each branch counted by :func:`run_kernels`
        (its loops included, in that branch only).
      conditionals: each conditional of the body: ``{"name", "branches": [{"computation",
        "kernels"}]}``, ``kernels`` being :func:`run_kernels` of that branch.
      once: the kernels one pass of the body executes, at least (:func:`run_kernels`: its kernels,
        nested loops, cheapest branches).
      copy_sources: ``copy`` ops by what they copy (the operand's name up to its first dot:
        ``constant``, ``get-tuple-element`` (loop-carried state), ``fusion``, ...).
      flops, bytes_accessed: XLA's cost analysis of this body (``None`` where unavailable).
      cost_missing: why ``flops`` is ``None`` (``"missing: <reason>"``); ``None`` when present.
    """

    name: str
    kernels: int
    by_kind: dict[str, int]
    trip_count: int | None = None
    condition_kernels: int = 0
    branch_kernels: tuple[int, int] = (0, 0)
    conditionals: list[dict[str, Any]] = field(default_factory=list)
    once: int = 0
    copy_sources: dict[str, int] = field(default_factory=dict)
    flops: float | None = None
    bytes_accessed: float | None = None
    cost_missing: str | None = None


#: the keys of :func:`count_kernels` (the last three are control thunks, not kernels)
KINDS = ("fusion", "small-call", "custom-call", "copy", "other-op", "while", "conditional", "call")


def count_kernels(instructions: list[Instruction]) -> dict[str, int]:
    """Counts by kind of one computation's instructions (free ones left out)."""
    out = dict.fromkeys(KINDS, 0)
    for ins in instructions:
        if ins.opcode in FREE_OPCODES:
            continue
        key = "small-call" if ins.small_call else ins.opcode if ins.opcode in out else "other-op"
        out[key] += 1
    return out


def _kernels(by_kind: dict[str, int]) -> int:
    return sum(v for k, v in by_kind.items() if k not in CONTROL_OPCODES)


def _nested_whiles(
    name: str, comps: dict[str, list[Instruction]], *, branches: bool = False
) -> list[Instruction]:
    """Every while reachable from ``name`` through calls (and, with ``branches``, conditionals' branches),
    not through loop bodies nor small calls (one kernel each)."""
    found: list[Instruction] = []
    for ins in comps.get(name, []):
        if ins.opcode == "while":
            found.append(ins)
        elif ins.opcode == "call" and not ins.small_call:
            for target in ins.calls.get("to_apply", []):
                found += _nested_whiles(target, comps, branches=branches)
        elif ins.opcode == "conditional" and branches:
            for target in ins.calls.get("branches", []):
                found += _nested_whiles(target, comps, branches=branches)
    return found


def _conditionals(name: str, comps: dict[str, list[Instruction]]) -> list[Instruction]:
    """The conditionals of ``name`` and of the (non-small) calls it makes."""
    found: list[Instruction] = []
    for ins in comps.get(name, []):
        if ins.opcode == "conditional":
            found.append(ins)
        elif ins.opcode == "call" and not ins.small_call:
            for target in ins.calls.get("to_apply", []):
                found += _conditionals(target, comps)
    return found


def _loop_kernels(loop: Instruction, comps: dict[str, list[Instruction]], most: bool) -> int:
    """One run of a loop. A loop with a known trip count runs its body that many times and never its
    condition (XLA:CPU's ``WhileThunk`` runs it as a for loop); a data-dependent loop at least runs
    its condition once (zero passes)."""
    if loop.trip_count is not None:
        return loop.trip_count * run_kernels(loop.calls["body"][0], comps, most=most)
    return run_kernels(loop.calls.get("condition", [""])[0], comps, most=most)


def run_kernels(name: str, comps: dict[str, list[Instruction]], *, most: bool = False) -> int:
    """Kernels one run of computation ``name`` executes, at least: its own kernels (a small call is one),
    each nested loop by :func:`_loop_kernels` (a data-dependent one at zero passes), each conditional's
    cheapest branch (``most``: its dearest), each non-small call's computation once."""
    total = _kernels(count_kernels(comps.get(name, [])))
    for ins in comps.get(name, []):
        if ins.opcode == "while":
            total += _loop_kernels(ins, comps, most)
        elif ins.opcode == "call" and not ins.small_call:
            total += sum(run_kernels(t, comps, most=most) for t in ins.calls.get("to_apply", []))
        elif ins.opcode == "conditional":
            runs = [run_kernels(b, comps, most=most) for b in ins.calls.get("branches", [])]
            total += (max if most else min)(runs, default=0)
    return total


@dataclass
class HloSummary:
    """Static figures of one executable.

    Attributes:
      total_kernels: kernels over every non-fusion computation of the module.
      iteration: the computation run once per solver iteration (a loop body, or ``ENTRY``).
      line_search: the data-dependent loop nested in the iteration, if any.
      fixed_loops: loops with a known trip count nested in the iteration.
      flops, bytes_accessed: XLA's cost analysis of the whole executable.
      cost_missing: why ``flops`` is ``None`` (``"missing: <reason>"``); ``None`` when present.
    """

    total_kernels: int
    iteration: BodySummary
    line_search: BodySummary | None = None
    fixed_loops: list[BodySummary] = field(default_factory=list)
    flops: float | None = None
    bytes_accessed: float | None = None
    cost_missing: str | None = None

    def kernels_per_iteration(self, line_search_steps: float) -> dict[str, float]:
        """The kernels one iteration executes, estimated, in three parts that add up to it.

        ``fixed loops``: each fixed loop, ``trip x body`` (XLA:CPU never runs the condition of a loop
        whose trip count it knows); ``line search``:
        ``steps x (body + condition) + condition``; ``iteration body``: the rest of one pass of the
        iteration with the outer loop's condition (its kernels, small calls one each, the cheapest
        branch of each conditional with the loops in that branch, other data-dependent loops'
        conditions). Each body and condition counted by :func:`run_kernels`. Exact where every pass
        takes the cheapest branches and runs ``line_search_steps`` line-search passes.
        """

        fixed = sum((b.trip_count or 0) * b.once for b in self.fixed_loops)
        ls = self.line_search
        rest = (
            self.iteration.once
            + self.iteration.condition_kernels
            - fixed
            - (ls.condition_kernels if ls else 0)
        )
        search = line_search_steps * (ls.once + ls.condition_kernels) + ls.condition_kernels if ls else 0.0
        return {"iteration body": float(rest), "fixed loops": float(fixed), "line search": search}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _body(name: str, comps: dict[str, list[Instruction]], loop: Instruction | None = None) -> BodySummary:
    by_kind = count_kernels(comps.get(name, []))
    summary = BodySummary(name, _kernels(by_kind), by_kind)
    for ins in comps.get(name, []):
        if ins.opcode == "copy":
            source = ins.operands.lstrip("%").split(".", 1)[0] or "?"
            summary.copy_sources[source] = summary.copy_sources.get(source, 0) + 1
    for ins in _conditionals(name, comps):
        branches = [
            {"computation": b, "kernels": run_kernels(b, comps)} for b in ins.calls.get("branches", [])
        ]
        summary.conditionals.append({"name": ins.name, "branches": branches})
    fewest = [min((b["kernels"] for b in c["branches"]), default=0) for c in summary.conditionals]
    most = [
        max((run_kernels(b["computation"], comps, most=True) for b in c["branches"]), default=0)
        for c in summary.conditionals
    ]
    summary.branch_kernels = (sum(fewest), sum(most))
    summary.once = run_kernels(name, comps)
    if loop is not None:
        summary.trip_count = loop.trip_count
        cond = loop.calls.get("condition", [""])[0]
        summary.condition_kernels = run_kernels(cond, comps)
    return summary


NO_COST = "missing: no cost analysis was asked for"


def _fill_cost(
    target: HloSummary | BodySummary, cost: Callable[[str, str], Cost], text: str, name: str
) -> None:
    found = cost(text, name)
    if isinstance(found, str):
        target.cost_missing = found
        return
    target.flops, target.bytes_accessed = found
    if target.flops is None:
        target.cost_missing = "missing: XLA's cost analysis reported no flops"


def _reachable(roots: list[str], comps: dict[str, list[Instruction]]) -> set[str]:
    """``roots`` and every computation they call, loop over or branch to, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [t for ins in comps.get(name, []) for ts in ins.calls.values() for t in ts]
    return seen


def summarize(text: str, *, loop: bool, cost: Callable[[str, str], Cost] | None = None) -> HloSummary:
    """Static figures of an executable's HLO text.

    Args:
      text: ``compiled.as_text()``.
      loop: whether the solve's iterations are a ``while`` in ``ENTRY`` (one-executable solves);
        otherwise ``ENTRY`` itself is one iteration (a jitted step or an evaluation).
      cost: optional ``callable(text, computation name) -> (flops, bytes) or "missing: <reason>"``
        filling in XLA's cost analysis (:func:`xla_cost_or_reason`); without it every
        ``cost_missing`` says so.
    """
    entry, comps = parse_hlo(text)
    fusion_bodies = {
        t
        for ins in (i for c in comps.values() for i in c)
        if ins.opcode == "fusion"
        for t in ins.calls.get("calls", [])
    }
    inside_small_calls = _reachable(
        [t for c in comps.values() for i in c if i.small_call for t in i.calls.get("to_apply", [])], comps
    )
    skipped = _reachable(sorted(fusion_bodies), comps) | inside_small_calls  # with their reducers
    total = sum(_kernels(count_kernels(c)) for name, c in comps.items() if name not in skipped)
    outer = [w for w in _nested_whiles(entry, comps) if w.trip_count is None] if loop else []
    if outer:
        bodies = [(w, _body(w.calls["body"][0], comps, w)) for w in outer]
        _, iteration = max(bodies, key=lambda p: p[1].kernels)
    else:
        iteration = _body(entry, comps)
    nested = [(w, _body(w.calls["body"][0], comps, w)) for w in _nested_whiles(iteration.name, comps)]
    searches = [b for w, b in nested if w.trip_count is None]
    line_search = max(searches, key=lambda b: b.kernels) if searches else None
    summary = HloSummary(total, iteration, line_search, [b for w, b in nested if w.trip_count is not None])
    bodies = [iteration, *([line_search] if line_search else []), *summary.fixed_loops]
    if cost is None:
        for target in [summary, *bodies]:
            target.cost_missing = NO_COST
        return summary
    _fill_cost(summary, cost, text, entry)
    for body in bodies:
        _fill_cost(body, cost, text, body.name)
    return summary
