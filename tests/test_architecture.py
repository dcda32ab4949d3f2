"""No import loops among the modules of shared/, counting every import wherever it stands:
inside functions and under TYPE_CHECKING too (each hides a loop only until it runs); the
benchmarks import nothing from the tests."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def _loops(graph: grimp.ImportGraph, package: str) -> list[set[str]]:
    """The groups of modules of ``package`` that import one another in a loop."""
    modules = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                loops.append(group)

    for module in sorted(modules):
        if module not in order:
            visit(module)
    return loops


def test_shared_has_no_import_loops() -> None:
    """Every module of shared/ can be read, and changed, without the ones that import it."""
    # No cache_dir: grimp would keep one in the working directory, the checkout.
    graph = grimp.build_graph("shared", exclude_type_checking_imports=False, cache_dir=None)
    assert _loops(graph, "shared") == []


def test_the_check_finds_a_loop() -> None:
    """The check itself: a loop written into a graph is found."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _loops(graph, "pkg") == [{"pkg.a", "pkg.b"}]


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_bench_imports_nothing_from_tests() -> None:
    """What both need is in harness/: a benchmark never runs test code."""
    offenders = {
        path.name: sorted(name for name in _imported(path) if name.split(".")[0] == "tests")
        for path in sorted((ROOT / "bench").glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert "harness.servers" in _imported(ROOT / "bench" / "stack.py")
