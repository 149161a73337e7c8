"""Mutation testing of the modules that make the figures and the verdicts.

    python scripts/mutation.py --module lbfgs_impl/tracking/signals.py --sample 40
    python scripts/mutation.py --list                     # modules, their tests, and mutant counts
    python scripts/mutation.py --rerun-survivors          # survivors again, with the second test set

Each mutant is one small change made on the syntax tree (:func:`sites`): a comparison
swapped (``<`` and ``<=``, ``==`` and ``!=``, ``in`` and ``not in``...), an arithmetic
operator swapped, a number changed (an integer +1, a float x2), ``and``/``or``
swapped, a ``not`` or a unary minus removed, ``min``/``max`` swapped, a returned value
replaced by ``None``, a call statement or an augmented assignment dropped. Docstrings,
strings, f-strings and annotations are left alone.

For each mutant, only the tiny-tier tests mapped to its module (:data:`MODULES`) run,
``pytest -m "not slow" -x``, against a copy of the package in which that one module is
mutated (nothing in the working tree changes). A mutant is *killed* when a test fails
(or the module no longer imports), *timeout* when the tests run past ``--timeout``
(counted as killed and shown apart), *survived* when every test passes. A process that
has imported JAX, NumPy, SciPy and pytest forks one child per mutant, so the imports
are paid once. Survivors can be rerun against the module's second, slower test set
(``--rerun-survivors``); a kill there is recorded as such.

Results are written after every mutant (``--out``, JSON, atomically): a rerun skips
the mutants already there, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "data" / "mutation" / "mutation.json"

_TRACKING = (
    "tests/tracking/test_gate_boundaries.py",
    "tests/tracking/test_runs_model.py",
    "tests/tracking/test_gate_trust.py",
)
_TRACKING_MORE = ("tests/tracking/test_regressions.py", "tests/tracking/test_confirm.py")
_MGH = (
    "tests/problems/test_mgh_start_values.py",
    "tests/problems/test_mgh_published.py::test_value_at_the_standard_start_matches_minpack",
    "tests/problems/test_mgh.py::test_value_at_the_standard_start",
    "tests/problems/test_mgh.py::test_penalty_1_at_n4_is_e_minus_5",
    "tests/problems/test_mgh.py::test_gulf_uses_a_minus_sign",
    "tests/problems/test_mgh.py::test_bad_dimensions_are_refused",
)
_MGH_MORE = ("tests/problems/test_mgh_published.py",)  # test_mgh.py's short solves take minutes
_COUNTS = (
    "tests/measure/test_recorded_count.py",
    "tests/measure/test_callgrind_share.py",
    "tests/measure/test_attribution.py",
)

#: module -> (the tiny-tier tests run for each of its mutants, the slower ones run for survivors);
#: files, or pytest node ids where a file's other tests take minutes
MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lbfgs_impl/solvers/base.py": (
        (
            "tests/solvers/test_stop_boundary.py",
            "tests/solvers/test_solver_flags.py",
            "tests/solvers/test_counting_path.py",
        ),
        ("tests/solvers/test_solvers.py",),
    ),
    "lbfgs_impl/solvers/scipy_lbfgsb.py": (
        ("tests/solvers/test_stop_boundary.py",),
        ("tests/solvers/test_solvers.py",),
    ),
    "lbfgs_impl/measure/timing.py": (("tests/measure/test_timing.py",), ()),
    "lbfgs_impl/measure/callgrind.py": (_COUNTS, ("tests/measure/test_instructions.py",)),
    "lbfgs_impl/measure/instructions.py": (
        ("tests/measure/test_recorded_count.py",),
        ("tests/measure/test_instructions.py",),
    ),
    "lbfgs_impl/measure/attribution.py": (
        (
            "tests/measure/test_attribution_rules.py",
            "tests/measure/test_attribution_dumps.py",
            "tests/measure/test_attribution.py",
        ),
        ("tests/commands/test_explain_findings.py",),
    ),
    "lbfgs_impl/profiles.py": (
        ("tests/test_profiles.py", "tests/test_success_rule.py"),
        ("tests/commands/test_profile_command.py",),
    ),
    "lbfgs_impl/commands/report/floor.py": (
        ("tests/commands/test_report_floor.py",),
        ("tests/commands/test_report_measures.py",),
    ),
    "lbfgs_impl/commands/report/first_call.py": (
        ("tests/commands/test_report_measures.py",),
        ("tests/commands/test_report_command.py",),
    ),
    "lbfgs_impl/tracking/signals.py": (_TRACKING, _TRACKING_MORE),
    "lbfgs_impl/tracking/runs.py": (_TRACKING, _TRACKING_MORE),
    "lbfgs_impl/problems/mgh_residuals.py": (_MGH, _MGH_MORE),
    "lbfgs_impl/problems/mgh.py": (_MGH, _MGH_MORE),
}

_COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BINOP_SWAPS: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
_SYMBOLS = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
    ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
    ast.Div: "/", ast.And: "and", ast.Or: "or",
}  # fmt: skip


class Site(NamedTuple):
    """One mutant: where it is and what it changes."""

    index: int
    line: int
    what: str


Mutation = tuple[int, str, Callable[[], None]]


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Ids of nodes never mutated: docstrings, f-strings, annotations (and everything inside them)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.AST] = []
        if isinstance(node, ast.JoinedStr):
            roots.append(node)
        if isinstance(node, (ast.AnnAssign, ast.arg)) and node.annotation is not None:
            roots.append(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            roots.append(node.returns)
        for root in roots:
            skip.update(id(n) for n in ast.walk(root))
    return skip


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _drop(parent: list[ast.stmt], stmt: ast.stmt) -> Callable[[], None]:
    def apply() -> None:
        parent[parent.index(stmt)] = ast.copy_location(ast.Pass(), stmt)

    return apply


def _mutations(tree: ast.AST) -> Iterator[Mutation]:
    """Every mutation of ``tree``, in a fixed order; each is applied by calling its function."""
    skip = _skipped_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _COMPARE_SWAPS:
                    new = _COMPARE_SWAPS[type(op)]
                    what = f"`{_SYMBOLS[type(op)]}` -> `{_SYMBOLS[new]}`"
                    yield line, what, lambda n=node, i=i, new=new: n.ops.__setitem__(i, new())
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            new = _BINOP_SWAPS[type(node.op)]
            what = f"`{_SYMBOLS[type(node.op)]}` -> `{_SYMBOLS[new]}`"
            yield line, what, lambda n=node, new=new: setattr(n, "op", new())
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            what = f"`{_SYMBOLS[type(node.op)]}` -> `{_SYMBOLS[new]}`"
            yield line, what, lambda n=node, new=new: setattr(n, "op", new())
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            if isinstance(node.op, ast.Not):  # `not x` -> `not not x`: x's truth, the `not` undone
                yield (
                    line,
                    "`not` removed",
                    lambda n=node: setattr(n, "operand", ast.UnaryOp(ast.Not(), n.operand)),
                )
            else:
                yield line, "unary `-` removed", lambda n=node: setattr(n, "op", ast.UAdd())
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            v = node.value
            new_value = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, int) else (v * 2 or 1.0))
            yield line, f"`{v!r}` -> `{new_value!r}`", lambda n=node, nv=new_value: setattr(n, "value", nv)
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max")
        ):
            new_name = "max" if node.func.id == "min" else "min"
            yield (
                line,
                f"`{node.func.id}` -> `{new_name}`",
                lambda n=node, nn=new_name: setattr(n.func, "id", nn),
            )
        elif isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            yield line, "returns `None`", lambda n=node: setattr(n, "value", ast.Constant(None))
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list) or len(stmts) < 2:
                continue  # dropping a block's only statement leaves no block
            for stmt in stmts:
                if id(stmt) in skip:
                    continue
                if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)) or isinstance(
                    stmt, ast.AugAssign
                ):
                    yield stmt.lineno, "statement dropped", _drop(stmts, stmt)


def sites(source: str) -> list[Site]:
    """Every mutant of ``source``, numbered."""
    return [Site(i, line, what) for i, (line, what, _) in enumerate(_mutations(ast.parse(source)))]


def mutant(source: str, index: int) -> str:
    """``source`` with mutation number ``index`` made (a fresh parse each time)."""
    tree = ast.parse(source)
    for i, (_, _, apply) in enumerate(_mutations(tree)):
        if i == index:
            apply()
            return ast.unparse(ast.fix_missing_locations(tree))
    raise IndexError(f"no mutant {index}")


# ------------------------------------------------------------------ running


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"method": "scripts/mutation.py", "results": []}


def _save(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _run_tests(copy: Path, tests: tuple[str, ...], timeout: float, log: Path) -> tuple[str, int, float]:
    """Run ``tests`` in a forked child that imports the package from ``copy``: (status, rc, seconds)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a timeout ends the processes it started too
        rc = 70
        try:
            os.setsid()
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.path.insert(0, str(copy))
            os.environ["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(copy), os.environ.get("PYTHONPATH")])
            )
            import pytest

            args = [*tests, "-m", "not slow", "-x", "-q", "-n", "0", "-p", "no:cacheprovider"]
            rc = int(pytest.main(args))
        finally:
            os._exit(rc)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", -9, time.monotonic() - start
        time.sleep(0.2)
    rc = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    if rc == 0:
        return "survived", rc, seconds
    if rc in (1, 2):  # a test failed, or the mutated module broke collection
        return "killed", rc, seconds
    return "error", rc, seconds


def _package_copy() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="lbfgs-mutation-"))
    shutil.copytree(ROOT / "lbfgs_impl", tmp / "lbfgs_impl", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp


def _record_run(doc: dict[str, Any]) -> None:
    """Which command ran, when, on what: kept beside the results it produced."""
    import platform
    import subprocess

    import jax

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    doc.setdefault("runs", []).append(
        {
            "command": "python scripts/mutation.py " + " ".join(sys.argv[1:]),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": head.strip() or None,
            "python": platform.python_version(),
            "jax": jax.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        }
    )


def run(args: argparse.Namespace) -> int:
    doc = _load(args.out)
    _record_run(doc)
    done = {(r["module"], r["index"]) for r in doc["results"]}
    modules = args.module or list(MODULES)
    copy = _package_copy()
    log = copy / "pytest.log"
    try:
        for module in modules:
            source = (ROOT / module).read_text()
            all_sites = sites(source)
            chosen = all_sites
            if args.sample is not None and args.sample < len(all_sites):
                chosen = sorted(random.Random(f"{args.seed}:{module}").sample(all_sites, args.sample))
            todo = [s for s in chosen if (module, s.index) not in done][: args.limit]
            print(f"{module}: {len(all_sites)} mutants, {len(chosen)} chosen, {len(todo)} to run", flush=True)
            target = copy / module
            tests = MODULES[module][0]
            for site in todo:
                target.write_text(mutant(source, site.index))
                status, rc, seconds = _run_tests(copy, tests, args.timeout, log)
                target.write_text(source)
                lines = source.splitlines()
                doc["results"].append(
                    {
                        "module": module,
                        "index": site.index,
                        "line": site.line,
                        "what": site.what,
                        "code": lines[site.line - 1].strip() if 0 < site.line <= len(lines) else "",
                        "status": status,
                        "rc": rc,
                        "seconds": round(seconds, 1),
                        "tests": list(tests),
                        "total_sites": len(all_sites),
                    }
                )
                _save(args.out, doc)
                print(
                    f"  {site.index:4d} line {site.line:4d} {site.what:28s} {status} ({seconds:.0f}s)",
                    flush=True,
                )
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return 0


def rerun_survivors(args: argparse.Namespace) -> int:
    """Survivors again, against their module's second test set; the outcome is kept as ``second``."""
    doc = _load(args.out)
    _record_run(doc)
    copy = _package_copy()
    log = copy / "pytest.log"
    try:
        for r in doc["results"]:
            if r["status"] != "survived" or "second" in r or (args.module and r["module"] not in args.module):
                continue
            more = MODULES[r["module"]][1]
            if not more:
                continue
            source = (ROOT / r["module"]).read_text()
            (copy / r["module"]).write_text(mutant(source, r["index"]))
            status, rc, seconds = _run_tests(copy, more, args.timeout, log)
            (copy / r["module"]).write_text(source)
            r["second"] = {"tests": list(more), "status": status, "rc": rc, "seconds": round(seconds, 1)}
            _save(args.out, doc)
            print(f"  {r['module']} {r['index']} line {r['line']}: {status} ({seconds:.0f}s)", flush=True)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="a module (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many new mutants per module")
    parser.add_argument("--sample", type=int, default=None, help="a seeded random sample of N mutants/module")
    parser.add_argument("--seed", default="0", help="the sample's seed")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant (default 300)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--list", action="store_true", help="list the modules, their tests and mutant counts")
    parser.add_argument("--rerun-survivors", action="store_true", help="survivors against the slower tests")
    args = parser.parse_args(argv)
    if args.list:
        for module, (tests, more) in MODULES.items():
            n = len(sites((ROOT / module).read_text()))
            print(f"{module}: {n} mutants; tests {', '.join(tests)}; survivors also {', '.join(more) or '-'}")
        return 0
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    import jax  # noqa: F401  (paid once, before the forks; no backend started)
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import scipy.optimize  # noqa: F401

    return rerun_survivors(args) if args.rerun_survivors else run(args)


if __name__ == "__main__":
    sys.exit(main())
