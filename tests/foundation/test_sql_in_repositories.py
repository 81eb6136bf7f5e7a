"""SQL lives in repositories: no module of the server outside a ``repository.py`` builds a statement with
SQLAlchemy's ``select``, ``insert``, ``update``, ``delete`` or ``text`` (imported by name, from a dialect,
or reached as ``sqlalchemy.select``). import-linter sees modules, not names (``from sqlalchemy import
Column`` and ``from sqlalchemy import select`` are the same import to it), so this rule is a test that
reads the source.

Only infrastructure below the domains is exempt, each module with why. ``DEBT`` (empty) would list
modules that still hold SQL, with why; an entry that no longer holds SQL fails the test, so the list
only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "experimently"
STATEMENTS = frozenset({"select", "insert", "update", "delete", "text"})

# Infrastructure below the domains: these talk to the database for the process itself.
INFRASTRUCTURE = {
    "db.py": "Database.ping: SELECT 1 on the engine",
    "migrate.py": "reads alembic_version to skip loading Alembic when the schema is at the head",
    "cli/doctor.py": "the doctor's own checks (server version, clock skew) on a raw connection",
    "cache.py": "without Redis: counts each invalidation in cache_marks and reads the counts back",
}

# Debt: modules that still hold SQL, module -> what its SQL does. Empty since every domain's SQL moved
# into its repository; an entry needs a reason, and one whose module holds no SQL fails the test.
DEBT: dict[str, str] = {}


def statements_used(source: str) -> set[str]:
    """The statement builders ``source`` takes from SQLAlchemy."""
    tree = ast.parse(source)
    used: set[str] = set()
    aliases: set[str] = set()  # names bound to the sqlalchemy package or a dialect module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in STATEMENTS:
                    used.add(alias.name)
                elif alias.name in {"dialects", "postgresql", "sqlite", "sql", "future"}:
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    aliases.add((alias.asname or alias.name).split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STATEMENTS:
            root: ast.expr = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                used.add(node.attr)
    return used


def _offenders() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if path.name == "repository.py" or relative.startswith("migrations/"):
            continue
        used = statements_used(path.read_text())
        if used:
            found[relative] = used
    return found


def test_sql_statements__only_in_repositories__or_listed_with_a_reason() -> None:
    offenders = _offenders()
    allowed = {*DEBT, *INFRASTRUCTURE}
    unexplained = {m: sorted(u) for m, u in offenders.items() if m not in allowed}
    assert not unexplained, f"SQL outside repository.py (move it into the domain's repository): {unexplained}"


def test_debt_list__holds_only_modules_that_still_have_sql() -> None:
    offenders = _offenders()
    paid = sorted(m for m in (*DEBT, *INFRASTRUCTURE) if m not in offenders)
    assert not paid, f"no SQL left in {paid}: remove them from the list"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sqlalchemy import select, Column", {"select"}),
        ("from sqlalchemy.dialects.postgresql import insert as pg_insert", {"insert"}),
        ("import sqlalchemy as sa\nq = sa.update(T)", {"update"}),
        ("from sqlalchemy import dialects\nq = dialects.sqlite.insert(T)", {"insert"}),
        ("from sqlalchemy import func, Column\nfrom x import select", set()),
        ("from experimently.auth import repository\nrepository.select_user()", set()),
    ],
)
def test_checker__sees_each_way_of_reaching_a_statement(source: str, expected: set[str]) -> None:
    assert statements_used(source) == expected
