"""Run Alembic migrations programmatically (``experimently migrate`` and embedded ``serve``).

Alembic (with Mako and, through it, Pygments) is a fifth of what ``serve`` imports, yet on every start
but the first there is nothing to apply. :func:`upgrade` therefore first compares the database's
``alembic_version`` with the head revision read from the migration files themselves (their
``revision`` and ``down_revision`` lines) and imports Alembic only when they differ; when a file is not
in the shape it expects, it leaves the decision to Alembic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def script_heads() -> set[str] | None:
    """The head revision(s) of the migration files, without importing Alembic; None when a file does
    not declare ``revision`` and ``down_revision`` as expected."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"""["']([^"']+)["']""", down.group(1)))
    return (revisions - parents) or None


def version_rows(connection: Connection) -> list[str] | None:
    """The rows of ``alembic_version`` (None without the table), as Alembic reads them: the table is
    looked up first, so a failing connection raises instead of reading as "no table"."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return [str(row[0]) for row in connection.execute(text("SELECT version_num FROM alembic_version"))]


async def database_revisions(engine: AsyncEngine) -> set[str] | None:
    """The revision(s) the database is at; None when it has no ``alembic_version`` table yet."""
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return {str(row[0]) for row in rows}
    except SQLAlchemyError:
        return None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (a no-op, without importing Alembic, when
    it is at the head already)."""
    if revision == "head":
        heads = script_heads()
        if heads is not None and await database_revisions(engine) == heads:
            return

    from alembic import command

    def _upgrade(connection: object) -> None:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
