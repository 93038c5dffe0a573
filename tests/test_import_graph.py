"""The packages' import graph: no cycles, and the edge never imports the hub.

Every ``import`` counts — module level, inside functions and under ``TYPE_CHECKING`` —
because a cycle that only typing sees is still two modules that cannot be understood,
tested or moved apart. The graph is read from the source (``ast``), so a module that
fails to import still shows up here with its edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "hub")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, modules: set[str]) -> str | None:
    """The known module ``module`` is, or the closest package above it that is."""
    while module and module not in modules:
        module = module.rpartition(".")[0]
    return module or None


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a ``from pkg import name`` of a submodule names the submodule)."""
    files = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(filter(None, (_resolve(alias.name, modules) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    found = _resolve(f"{base}.{alias.name}", modules)
                    if found is not None:
                        targets.add(found)
        # A package importing its own submodules (``hub/api/__init__``) is not a cycle of meaning.
        graph[name] = {t for t in targets if t != name and not t.startswith(f"{name}.")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_edge_imports_nothing_from_the_hub() -> None:
    """The wire contract lives on the edge side; a Pi installs the edge alone."""
    offenders = {module: sorted(t for t in targets if t.split(".")[0] == "hub")
                 for module, targets in import_graph().items() if module.split(".")[0] == "edge"}
    assert {module: targets for module, targets in offenders.items() if targets} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
