"""What XLA runs per iteration, read statically from a compiled executable's optimised HLO (``as_text()``).

Nothing is run. On XLA's CPU backend every instruction of a computation that is
not a pure naming/bookkeeping op (:data:`FREE_OPCODES`) becomes one thunk the
runtime executes: a fusion, a custom call, a copy or a single unfused op
(together: *kernels*), or a control thunk (``while``, ``conditional``, ``call``)
that runs other computations. Fusion bodies are one kernel each and are not
looked into.

For a solve compiled as one executable (``optax_while``, the peers) the
*iteration* is the body of the outermost ``while`` in ``ENTRY``; the *line
search* is the loop nested in it with no known trip count and the most kernels;
loops with a known trip count (the two-loop recursion over the memory) are
*fixed loops*. XLA's cost analysis (flops, bytes accessed) of a body is that of
the module re-rooted at that body, as XLA reports it (nested loops counted once).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: ``(flops, bytes accessed)`` of a computation, or the reason it is missing (``"missing: ..."``)
Cost = tuple[float | None, float | None] | str

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


@dataclass
class Instruction:
    name: str
    opcode: str
    calls: dict[str, list[str]]
    trip_count: int | None = None
    operands: str = ""


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
        current.append(Instruction(m.group(1), opcode, calls, int(trip.group(1)) if trip else None, operands))
    return entry, computations


@dataclass
class BodySummary:
    """The thunks of one computation (not counting what nested loops and branches run).

    Attributes:
      kernels: fusions + custom calls + copies + unfused ops.
      by_kind: counts of ``fusion``, ``custom-call``, ``copy``, ``other-op`` and the control ops
        ``while``, ``conditional``, ``call``.
      trip_count: XLA's known trip count of the loop this is the body of (``None``: data-dependent).
      condition_kernels: kernels of the loop's condition (run once more than the body).
      branch_kernels: (fewest, most) kernels the body's conditionals run, summed over its
        conditionals (each takes one branch per pass; nested loops in a branch not included).
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
    copy_sources: dict[str, int] = field(default_factory=dict)
    flops: float | None = None
    bytes_accessed: float | None = None
    cost_missing: str | None = None


def count_kernels(instructions: list[Instruction]) -> dict[str, int]:
    """Counts by kind of one computation's instructions (free ones left out)."""
    out = dict.fromkeys(("fusion", "custom-call", "copy", "other-op", "while", "conditional", "call"), 0)
    for ins in instructions:
        if ins.opcode in FREE_OPCODES:
            continue
        key = ins.opcode if ins.opcode in out else "other-op"
        out[key] += 1
    return out


def _kernels(by_kind: dict[str, int]) -> int:
    return sum(v for k, v in by_kind.items() if k not in CONTROL_OPCODES)


def _nested_whiles(name: str, comps: dict[str, list[Instruction]]) -> list[Instruction]:
    """Every while reachable from ``name`` through branches and calls (not through loop bodies)."""
    found: list[Instruction] = []
    for ins in comps.get(name, []):
        if ins.opcode == "while":
            found.append(ins)
        elif ins.opcode in ("conditional", "call"):
            for target in ins.calls.get("branches", []) + ins.calls.get("to_apply", []):
                found += _nested_whiles(target, comps)
    return found


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
        """At least the kernels one iteration executes: its body, ``trip x`` each fixed loop, ``steps x``
        the line search (each pass: body, condition, the smaller branch of each conditional)."""

        def once(b: BodySummary) -> int:
            return b.kernels + b.condition_kernels + b.branch_kernels[0]

        parts = {"iteration body": float(once(self.iteration))}
        parts["fixed loops"] = float(
            sum((b.trip_count or 0) * once(b) + b.condition_kernels for b in self.fixed_loops)
        )
        ls = self.line_search
        parts["line search"] = line_search_steps * once(ls) + ls.condition_kernels if ls else 0.0
        return parts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _body(name: str, comps: dict[str, list[Instruction]], loop: Instruction | None = None) -> BodySummary:
    by_kind = count_kernels(comps.get(name, []))
    summary = BodySummary(name, _kernels(by_kind), by_kind)
    for ins in comps.get(name, []):
        if ins.opcode == "copy":
            source = ins.operands.lstrip("%").split(".", 1)[0] or "?"
            summary.copy_sources[source] = summary.copy_sources.get(source, 0) + 1
    branches = [
        [_kernels(count_kernels(comps.get(b, []))) for b in ins.calls.get("branches", [])]
        for ins in comps.get(name, [])
        if ins.opcode == "conditional"
    ]
    summary.branch_kernels = (
        sum(min(b, default=0) for b in branches),
        sum(max(b, default=0) for b in branches),
    )
    if loop is not None:
        summary.trip_count = loop.trip_count
        cond = loop.calls.get("condition", [""])[0]
        summary.condition_kernels = _kernels(count_kernels(comps.get(cond, [])))
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
    total = sum(_kernels(count_kernels(c)) for name, c in comps.items() if name not in fusion_bodies)
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


def reroot(text: str, computation: str) -> str:
    """The module's text with ``computation`` as its entry (to cost one loop body on its own)."""
    text = re.sub(r"^ENTRY ", "", text, flags=re.M)
    return re.sub(rf"^(%{re.escape(computation)} \()", r"ENTRY \1", text, count=1, flags=re.M)


@functools.cache
def cost_api() -> tuple[Callable[[str], Any], Callable[[Any], dict[str, float]]] | str:
    """This jaxlib's ``(module from HLO text, XLA cost analysis of a module)``, or why it has none.

    Both are private jaxlib APIs (nothing public parses HLO text). Tried in order: jaxlib >= 0.7
    (``jaxlib._hlo.hlo_module_from_text``, ``jax._src.lib._jax.hlo_module_cost_analysis``), then
    older jaxlib (the same two functions on ``jax._src.lib.xla_client._xla``). Where neither is
    there, the reason (``"missing: ..."``) is what every cost figure reports instead of a number.
    """
    import jax

    client = jax.devices("cpu")[0].client
    tried = []
    try:
        from jax._src.lib import _jax
        from jaxlib import _hlo

        new_api = (_hlo.hlo_module_from_text, _jax.hlo_module_cost_analysis)
    except (ImportError, AttributeError) as exc:
        tried.append(f"jaxlib._hlo/jax._src.lib._jax ({type(exc).__name__}: {exc})")
    else:
        return new_api[0], lambda module: new_api[1](client, module)
    try:
        from jax._src.lib import xla_client

        old_api = (xla_client._xla.hlo_module_from_text, xla_client._xla.hlo_module_cost_analysis)
    except (ImportError, AttributeError) as exc:
        tried.append(f"jax._src.lib.xla_client._xla ({type(exc).__name__}: {exc})")
    else:
        return old_api[0], lambda module: old_api[1](client, module)
    return f"missing: this jaxlib has no HLO-text cost analysis; tried {'; '.join(tried)}"


def xla_cost_or_reason(text: str, computation: str) -> Cost:
    """XLA's cost analysis ``(flops, bytes accessed)`` of ``computation`` as the module's entry.

    ``"missing: <reason>"`` where this jaxlib lacks the private API (:func:`cost_api`) or XLA
    refuses the text; never a silent ``None``.
    """
    api = cost_api()
    if isinstance(api, str):
        return api
    from_text, analyse = api
    try:
        analysis = analyse(from_text(reroot(text, computation)))
    except Exception as exc:  # XLA's parser or cost analysis rejected the module
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"missing: XLA's cost analysis failed ({type(exc).__name__}: {first[:200]})"
    return analysis.get("flops"), analysis.get("bytes accessed")


def xla_cost(text: str, computation: str) -> tuple[float | None, float | None]:
    """:func:`xla_cost_or_reason` as numbers only: ``(None, None)`` where it gives a reason."""
    found = xla_cost_or_reason(text, computation)
    return (None, None) if isinstance(found, str) else found
