"""The three floors hold: prism_core imports neither side, prism_dataset never imports prism_eval,
and no import cycle exists between prism's modules (imports inside functions count too)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("prism_core", "prism_dataset", "prism_eval")
FLOOR = {"prism_core": 0, "prism_dataset": 1, "prism_eval": 1}  # data and evaluation: beside
ALLOWED_UP = {("prism_dataset", "prism_eval"): False, ("prism_eval", "prism_dataset"): True}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _imports(module: str, path: Path) -> set[str]:
    """prism modules that ``module`` imports anywhere in its body (a name imported from a
    package counts as its submodule when one of that name exists)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_the_graph_sees_every_package():
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert "prism_core.attributes" in GRAPH["prism_eval.scoring"]
    assert "prism_core.backends.base" in GRAPH["prism_core.cache"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_only(module):
    side = module.split(".")[0]
    for target in GRAPH[module]:
        other = target.split(".")[0]
        if other == side:
            continue
        assert FLOOR[other] < FLOOR[side] or ALLOWED_UP.get((side, other)), (
            f"{module} imports {target}: {side} must not import {other}")


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycles():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_one():
    """The check itself: a graph with a cycle is caught."""
    saved = dict(GRAPH)
    try:
        GRAPH["prism_core.errors"] = {"prism_core.attributes"}
        assert _cycle() is not None
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
