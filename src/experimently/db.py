"""Engine, sessions, and the per-request session that commits or rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from prometheus_client import Gauge
from sqlalchemy import MetaData, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from experimently.config import Settings

log = structlog.get_logger(__name__)
# Connection pool use (PostgreSQL; SQLite has no pool to exhaust). Kept by pool events, so the figures
# add up across the processes of ``serve --workers N`` (``livesum``) as they do in one process.
POOL_IN_USE = Gauge(
    "experimently_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
POOL_CAPACITY = Gauge(
    "experimently_db_pool_capacity",
    "Connections the pool may open (pool size + max overflow)",
    multiprocess_mode="livesum",
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=settings.db_echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
    )


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the unit of work commits (never if it rolls back): cache invalidations and
    messages about a change must not be seen before the change itself."""
    session.info.setdefault("after_commit", []).append(hook)


async def run_after_commit(session: AsyncSession) -> None:
    for hook in session.info.pop("after_commit", []):
        try:
            await hook()
        except Exception as exc:
            log.warning("db.after_commit_failed", error=repr(exc))


class Database:
    """Owns the engine and the session factory for one process."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.dialect = self.engine.dialect.name
        self._capacity = 0
        if self.dialect != "sqlite":
            self._capacity = settings.db_pool_size + settings.db_max_overflow
            POOL_CAPACITY.inc(self._capacity)
            event.listen(self.engine.sync_engine, "checkout", lambda *_: POOL_IN_USE.inc())
            event.listen(self.engine.sync_engine, "checkin", lambda *_: POOL_IN_USE.dec())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on any exception (jobs and requests)."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            await run_after_commit(session)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        POOL_CAPACITY.dec(self._capacity)
        self._capacity = 0
