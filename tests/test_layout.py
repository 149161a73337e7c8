"""The package layout the README's table describes: one room per command, no cycles, small modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lbfgs_impl"
MAX_LINES = 420  # "no module over ~400 lines"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every lbfgs_impl module ``path`` imports (at any depth, lazy imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import sub` imports pkg (its __init__) and, where sub is a module, pkg.sub
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out.update(n for n in names if n in modules)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the cycle it closes."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_import_cycles_packages_included():
    cycles = find_cycles(_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_planted_package_cycle():
    """The old ``whenwins`` shape (``__init__`` <-> submodule) is found, so the check above can fail."""
    graph = _graph()
    assert "lbfgs_impl.commands.report.plans" in graph["lbfgs_impl.commands.report.build"]
    graph["lbfgs_impl.commands.report.plans"] = {"lbfgs_impl.commands.report.build"}
    assert find_cycles(graph)
    assert find_cycles({"pkg": {"pkg.sub"}, "pkg.sub": {"pkg"}}) == [["pkg", "pkg.sub", "pkg"]]


def test_only_the_entry_points_import_cli():
    importers = {m for m, deps in _graph().items() if "lbfgs_impl.cli" in deps}
    assert importers <= {"lbfgs_impl.__main__"}, importers


def test_every_command_has_its_own_room():
    from lbfgs_impl.commands import COMMAND_MODULES

    names = []
    for dotted in COMMAND_MODULES:
        module = importlib.import_module(dotted)
        assert dotted.startswith("lbfgs_impl.commands.")
        assert callable(module.add_arguments) and callable(module.run)
        assert module.HELP and module.DESCRIPTION
        stem = module.NAME.replace("-", "_")
        # `lbfgs-bench X` lives at lbfgs_impl/commands/X* (a module or a package)
        assert dotted.split(".")[2] == stem, (module.NAME, dotted)
        names.append(module.NAME)
    assert names == [
        "compare",
        "profile",
        "report",
        "explain",
        "pitfalls",
        "history",
        "check-regressions",
        "list",
    ]


@pytest.mark.parametrize(
    "package",
    [
        "commands.report",
        "commands.compare",
        "commands.profile",
        "commands.explain",
        "commands.pitfalls",
        "tracking",
    ],
)
def test_package_inits_import_nothing_back(package):
    init = PACKAGE / package.replace(".", "/") / "__init__.py"
    assert not _imports(init, _modules()), f"{init} imports its own modules"


def test_modules_stay_small():
    long = {name: n for name, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


MAX_FUNCTION_LINES = 60


def test_long_functions_say_why():
    """No function over ~60 lines without a ``# long function:`` comment giving the reason."""
    unexplained = []
    for name, path in _modules().items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                if length > MAX_FUNCTION_LINES and "# long function:" not in body:
                    unexplained.append(f"{name}.{node.name} ({length} lines)")
    assert not unexplained, unexplained
