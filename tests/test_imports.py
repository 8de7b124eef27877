"""Every CLI module imports on its own, and no module of the project is part of an import circle.

A circle works only while its modules happen to be imported in one order: `python -c "import X"`
with the other end first fails on a partially initialised module. The static test below reads the
imports of every file (those inside functions too, because a deferred import still closes the
circle the moment the function runs) and fails naming the modules of each circle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import opsbook

ROOT = Path(__file__).resolve().parents[1]


@cache
def project_modules() -> dict[str, Path]:
    """Module name -> file for every .py under the `opsbook` package, each real file once.

    The walk follows the symlinks opsbook/flows, opsbook/tasks, ... so their files get the names
    the code imports them by (`opsbook.flows.daily`), never their top-level folder names.
    """
    [package_dir] = (Path(p) for p in opsbook.__path__)
    modules: dict[str, Path] = {}
    seen: set[Path] = set()
    for folder, dirs, files in os.walk(package_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file in sorted(f for f in files if f.endswith(".py")):
            path = Path(folder) / file
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            parts = ["opsbook", *path.relative_to(package_dir).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


@dataclass(frozen=True)
class Import:
    name: str  # a dotted name; `from a import b` gives `a.b`, as b may be a submodule
    deferred: bool  # inside a function: it runs when the function is called, not on import


def imports_of(module: str, path: Path) -> list[Import]:
    """Every import in the file, those inside functions too, relative imports made absolute."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, deferred) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.append(Import(base, deferred))
            found.extend(Import(f"{base}.{alias.name}", deferred) for alias in node.names if alias.name != "*")
        inside = deferred or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return found


@cache
def import_graph(*, deferred: bool = True) -> dict[str, set[str]]:
    """Project module -> the project modules it imports (with deferred=False: on being imported)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for found in imports_of(name, path):
            if found.deferred and not deferred:
                continue
            parts = found.name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != name:
                graph[name].add(".".join(parts))
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_symlinked_folders_under_their_package_names() -> None:
    modules = project_modules()
    for name in ("opsbook.cli", "opsbook.flows.daily", "opsbook.tasks.catalog", "opsbook.reports.render"):
        assert name in modules
    assert not any(name.startswith(("flows.", "tasks.", "reports.", "deployments.")) for name in modules)
    assert len({path.resolve() for path in modules.values()}) == len(modules)


def test_the_graph_sees_deferred_and_relative_imports() -> None:
    graph = import_graph()
    assert "opsbook.flows.daily" in graph["opsbook.cli.checklists"]  # imported inside a command
    assert "opsbook.flows.daily" not in import_graph(deferred=False)["opsbook.cli.checklists"]
    assert "opsbook.config.estate" in graph["opsbook.config"]  # `from .estate import ...`


def test_circle_detection_names_the_modules_of_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_module_of_the_project_is_part_of_an_import_circle() -> None:
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


LAYERS_ABOVE_THE_CORE = ("opsbook.tasks", "opsbook.flows", "opsbook.reports", "opsbook.deployments", "opsbook.cli")


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def crossings(graph: dict[str, set[str]], lower: Callable[[str], bool], upper: tuple[str, ...]) -> list[str]:
    """`module imports ...` for each module of the lower layer that imports one of the upper layer."""
    return sorted(
        f"{module} imports {', '.join(sorted(m for m in imported if within(m, upper)))}"
        for module, imported in graph.items()
        if lower(module) and any(within(m, upper) for m in imported)
    )


def test_tasks_never_import_flows() -> None:
    wrong = crossings(import_graph(), lambda m: within(m, ("opsbook.tasks",)), ("opsbook.flows",))
    assert not wrong, wrong


def test_the_core_imports_no_layer_above_it_on_being_imported() -> None:
    """config, results, store, alerts, ...: the bottom layer, which tasks, flows and reports build on."""
    wrong = crossings(
        import_graph(deferred=False),
        lambda m: not within(m, (*LAYERS_ABOVE_THE_CORE, "opsbook.__main__")),
        LAYERS_ABOVE_THE_CORE,
    )
    assert not wrong, wrong


def test_a_crossing_is_named() -> None:
    graph = {"opsbook.tasks.x": {"opsbook.flows.daily", "opsbook.results"}, "opsbook.tasks.y": {"opsbook.results"}}
    found = crossings(graph, lambda m: within(m, ("opsbook.tasks",)), ("opsbook.flows",))
    assert found == ["opsbook.tasks.x imports opsbook.flows.daily"]


CLI_MODULES = sorted(name for name in project_modules() if within(name, ("opsbook.cli",)))


@pytest.mark.parametrize("module", CLI_MODULES)
def test_every_cli_module_imports_on_its_own(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
