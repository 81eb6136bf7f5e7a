"""``migrate.upgrade`` skips Alembic when the database is at the head already; the head it reads from
the migration files is Alembic's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from experimently import migrate


def test_script_heads__equal_alembics_heads() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert migrate.script_heads() == set(script.get_heads())


async def test_upgrade__fresh_then_at_head(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        # Given a database without a schema, When upgraded, Then it is at the head
        assert await migrate.database_revisions(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.database_revisions(engine) == migrate.script_heads()
        # When upgraded again, Then nothing changes (the fast path)
        await migrate.upgrade(engine)
        assert await migrate.database_revisions(engine) == migrate.script_heads()
    finally:
        await engine.dispose()


def test_upgrade__at_head__does_not_import_alembic(tmp_path: Path) -> None:
    # Given a migrated database, When a new process upgrades it, Then Alembic is never imported
    code = f"""
import asyncio, sys
from sqlalchemy.ext.asyncio import create_async_engine
from experimently import migrate

async def main(first):
    engine = create_async_engine("sqlite+aiosqlite:///{tmp_path / "y.db"}")
    await migrate.upgrade(engine)
    await engine.dispose()
    print("alembic" in sys.modules)

asyncio.run(main(sys.argv[1] == "first"))
"""
    first = subprocess.run([sys.executable, "-c", code, "first"], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", code, "again"], capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")
