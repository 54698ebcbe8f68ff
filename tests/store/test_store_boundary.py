"""The Store is the one door to the database: outside ``signalering/store/`` no module
imports SQLAlchemy, the store's models module or a table, or opens a store session.

Read from the source (ast), so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import signalering
from signalering.store.models import Base

PACKAGE = Path(signalering.__file__).parent
STORE = PACKAGE / "store"
# Every mapped class, by name (the tables of models, accounts, links, jobs, retention ...).
TABLES = {mapper.class_.__name__ for mapper in Base.registry.mappers}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(path: Path, root: Path, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def violations(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """What in one source file (under ``root``) goes around the Store, as ``file:line: what``."""
    where = path.relative_to(root)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (
                    alias.name.split(".")[0] == "sqlalchemy"
                    or alias.name == "signalering.store.models"
                ):
                    found.append(f"{where}:{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, root, node)
            names = {alias.name for alias in node.names}
            if module.split(".")[0] == "sqlalchemy":
                found.append(f"{where}:{node.lineno}: imports from {module}")
            elif module == "signalering.store.models" or (
                module == "signalering.store" and "models" in names
            ):
                found.append(f"{where}:{node.lineno}: imports the store's models")
            elif module.startswith("signalering.store") and names & TABLES:
                found.append(f"{where}:{node.lineno}: imports tables {sorted(names & TABLES)}")
        elif isinstance(node, ast.Attribute) and node.attr == "_session":
            found.append(f"{where}:{node.lineno}: opens a store session")
    return found


def _outside_store() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if STORE not in p.parents)


def test_no_module_outside_the_store_touches_the_database_directly() -> None:
    problems = [v for path in _outside_store() for v in violations(path)]
    assert problems == [], "go through Store methods instead:\n" + "\n".join(problems)


def test_the_check_catches_each_way_around_the_store(tmp_path: Path) -> None:
    # Laid out like the package, so its relative import resolves as it would there.
    probe = tmp_path / "signalering" / "link" / "probe.py"
    probe.parent.mkdir(parents=True)
    source = (
        "from sqlalchemy import select\n"
        "import sqlalchemy.orm\n"
        "from ..store.models import PostRow\n"
        "from signalering.store.links import NetworkRow\n"
        "from signalering.store import models\n"
        "def f(store):\n"
        "    with store._session() as session:\n"
        "        return session\n"
    )
    probe.write_text(source, encoding="utf-8")
    found = violations(probe, tmp_path)
    assert [v.split(": ", 1)[1] for v in found] == [
        "imports from sqlalchemy",
        "imports sqlalchemy.orm",
        "imports the store's models",
        "imports tables ['NetworkRow']",
        "imports the store's models",
        "opens a store session",
    ]


def test_the_table_list_holds_the_tables_of_every_store_module() -> None:
    assert {"PostRow", "Score", "Decision", "User", "NetworkRow", "RescoreJob"} <= TABLES
