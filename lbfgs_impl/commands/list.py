"""``lbfgs-bench list``: every solver and problem available, and where each comes from."""

from __future__ import annotations

import argparse
import json
from typing import Any

NAME = "list"
HELP = "every solver and problem available here, and where each comes from"
DESCRIPTION = (
    "Solvers and problems registered here (lbfgs-bench's own and those of installed plugins, under the "
    "entry-point groups lbfgs_bench.solvers and lbfgs_bench.problems): where each comes from (built-in, "
    "entry point of distribution X version Y) and why one cannot run (a missing extra, a plugin that "
    "does not load, a name two distributions register). Any module:attr is accepted as well."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")


def solver_entries() -> list[dict[str, Any]]:
    """One entry per registered solver: name, origin, availability (or why not) and description."""
    import lbfgs_impl.registry as registry
    from lbfgs_impl.solvers import BUILTIN_SOLVERS, get_solver, solver_names, solver_origin

    plugins = registry.third_party(registry.SOLVER_GROUP)
    out = []
    for name in solver_names():
        entry: dict[str, Any] = {"name": name, "origin": None, "available": False, "reason": None}
        regs = plugins.get(name, [])
        if regs and (len(regs) > 1 or name in BUILTIN_SOLVERS):
            entry["origin"] = regs[0].origin().to_dict()
        try:
            solver = get_solver(name)
        except ValueError as exc:
            entry["reason"] = str(exc)
            if entry["origin"] is None and regs:
                entry["origin"] = regs[0].origin().to_dict()
            out.append(entry)
            continue
        reason = solver.unavailable_reason()
        entry.update(
            origin=solver_origin(name).to_dict(),
            available=reason is None,
            reason=reason,
            description=solver.description,
        )
        out.append(entry)
    return out


def problem_entries() -> list[dict[str, Any]]:
    """One entry per registered problem: name, origin and, for a plugin that does not load, why."""
    import lbfgs_impl.registry as registry
    from lbfgs_impl.problems import PROBLEMS, problem_names, problem_origin

    plugins = registry.third_party(registry.PROBLEM_GROUP)
    out = []
    for name in problem_names():
        entry: dict[str, Any] = {"name": name, "origin": problem_origin(name).to_dict(), "reason": None}
        regs = plugins.get(name, [])
        if regs and (len(regs) > 1 or name in PROBLEMS):
            entry["reason"] = registry.conflict_message("problem", name, regs)
        elif regs:
            try:
                registry.load_target(regs[0].target, f"problem {name!r}")
            except ValueError as exc:
                entry["reason"] = str(exc)
        out.append(entry)
    return out


def _origin_text(origin: dict[str, Any] | None) -> str:
    if origin is None:
        return "?"
    from lbfgs_impl.registry import Origin

    return Origin(**origin).describe()


def format_listing(solvers: list[dict[str, Any]], problems: list[dict[str, Any]]) -> str:
    lines = ["solvers:"]
    width = max(len(s["name"]) for s in solvers)
    for s in solvers:
        state = "" if s["available"] else f" -- unavailable: {s['reason']}"
        lines.append(f"  {s['name']:{width}s}  {_origin_text(s['origin'])}{state}")
    lines.append("problems:")
    width = max(len(p["name"]) for p in problems)
    for p in problems:
        state = f" -- unavailable: {p['reason']}" if p["reason"] else ""
        lines.append(f"  {p['name']:{width}s}  {_origin_text(p['origin'])}{state}")
    lines.append("any module:attr is accepted too (see docs/howto/plugins.md)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    solvers, problems = solver_entries(), problem_entries()
    if args.json:
        print(json.dumps({"solvers": solvers, "problems": problems}, indent=2))
    else:
        print(format_listing(solvers, problems))
    return 0
