"""``signalering.web`` has no import cycle: its modules' imports of each other, at module
level and inside functions alike, form a graph without a cycle.

Read from the source (ast). ``from signalering.web import review`` is an edge to
``signalering.web.review`` (the module it imports); ``from signalering.web import x`` for a
name that is not a module is an edge to the package ``signalering.web`` itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import signalering.web

WEB = Path(signalering.web.__file__).parent
PACKAGE = "signalering.web"


def _name(path: Path, root: Path, package: str) -> str:
    rel = path.relative_to(root).with_suffix("").parts
    parts = rel[:-1] if rel[-1] == "__init__" else rel
    return ".".join((package, *parts)) if parts else package


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (anywhere in its body)."""
    paths = {_name(p, root, package): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.append(sub if sub in paths else module)
            for target in targets:
                if target in paths and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_web_package_imports_have_no_cycle() -> None:
    graph = import_graph(WEB, PACKAGE)
    assert {"signalering.web.app", "signalering.web.pages"} <= set(graph)
    assert "signalering.web.pages" in graph["signalering.web.app"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_web_module_imports_the_package_back() -> None:
    graph = import_graph(WEB, PACKAGE)
    back = sorted(name for name, targets in graph.items() if PACKAGE in targets)
    assert back == []


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("def f():\n    from pkg.a import x\n")
    (tmp_path / "a.py").write_text("from pkg.b import y\nx = 1\n")
    (tmp_path / "b.py").write_text("from pkg import a\n\ndef g():\n    from . import helper\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a", "pkg"}}
    assert find_cycle(graph) == ["pkg", "pkg.a", "pkg.b", "pkg"]
