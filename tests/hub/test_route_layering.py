"""Routes and pages depend on components, never on the hub process that holds them.

A router that imports ``hub.runtime`` (or reads ``app.state.hub`` itself) can reach any
part of the hub, and every change to how the hub is composed would ripple through it.
Only ``hub/api/deps.py`` knows where the components live.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hub

HUB = Path(hub.__file__).parent
#: The HTTP side of the hub: routers, page views and the auth dependencies they declare.
LAYERS = ("api", "web", "auth/deps.py")
#: The one module that may look the components up on the running app.
SEAM = HUB / "api" / "deps.py"


def _modules() -> list[Path]:
    found: list[Path] = []
    for layer in LAYERS:
        path = HUB / layer
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def _imported(tree: ast.AST) -> set[str]:
    """Every module an ``import`` or ``from … import`` names, also inside functions and TYPE_CHECKING blocks."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_layers_have_modules() -> None:
    assert len(_modules()) > 20


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(HUB)))
def test_no_route_or_view_imports_the_hub_runtime(path: Path) -> None:
    imported = _imported(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not {name for name in imported if name == "hub.runtime" or name.startswith("hub.runtime.")}, path


@pytest.mark.parametrize("path", [p for p in _modules() if p != SEAM], ids=lambda p: str(p.relative_to(HUB)))
def test_only_the_dependency_module_looks_up_the_running_hub(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lookups = [node.lineno for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr == "hub"
               and isinstance(node.value, ast.Attribute) and node.value.attr == "state"]
    assert not lookups, f"{path}:{lookups}: depend on a component from hub.api.deps instead"
