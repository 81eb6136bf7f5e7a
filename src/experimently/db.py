"""Engine, sessions, and the per-request session that commits or rolls back."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from prometheus_client import Gauge
from sqlalchemy import MetaData, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from experimently import degraded
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


def private_sqlite_file(url: str) -> None:
    """Create an SQLite database file that only its owner can read or write (0600), before SQLite
    creates it with the process's umask (commonly 0644: readable by every local account). It holds
    password and key hashes, sessions and the audit trail; SQLite gives its ``-wal`` and ``-shm``
    files the database file's mode. A file that exists keeps the mode its owner gave it; an in-memory
    database, or a directory that does not exist (SQLite then says so), is left to SQLite."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # there already, or nowhere to create it
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_async_engine(url, echo=settings.db_echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        # asyncpg's own: without them a server that stops answering holds a connect, or a statement
        # (the pre-ping's included), for ever
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_command_timeout_seconds or None,
        },
    )


def _checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
    record.info["experimently_out"] = True
    POOL_IN_USE.inc()


def _checked_in(_dbapi: Any, record: Any) -> None:
    # the pool also "checks in" a connection whose opening failed, never checked out: counting only
    # what was counted out keeps the gauge from sinking below zero after an outage
    if record is not None and record.info.pop("experimently_out", False):
        POOL_IN_USE.dec()


AfterCommit = Callable[[], Awaitable[None]]
T = TypeVar("T")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Read the outcome of work nobody waits for any more (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()


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
        self.lookup_timeout = settings.db_lookup_timeout_seconds
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.dialect = self.engine.dialect.name
        self._capacity = 0
        if self.dialect != "sqlite":
            self._capacity = settings.db_pool_size + settings.db_max_overflow
            POOL_CAPACITY.inc(self._capacity)
            event.listen(self.engine.sync_engine, "checkout", _checked_out)
            event.listen(self.engine.sync_engine, "checkin", _checked_in)

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
            if degraded.is_down(degraded.DATABASE):  # a commit: the database answers again
                degraded.mark_up(degraded.DATABASE)
            await run_after_commit(session)

    async def bounded(self, work: Coroutine[Any, Any, T], what: str) -> T:
        """``work`` (database I/O with an answer without the database, such as an API key seen lately),
        waited for at most the look-up time-out; then :class:`degraded.DatabaseTimeout`. The work is
        left to end in the background rather than cancelled: cancelling a statement in flight waits
        for the server that does not answer (until the statement time-out), and the caller must not."""
        task = asyncio.ensure_future(work)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.lookup_timeout)
        except TimeoutError:
            task.add_done_callback(_retrieve)
            raise degraded.DatabaseTimeout(f"{what} took over {self.lookup_timeout:g} s") from None

    async def ping(self) -> bool:
        """Whether the database answers ``SELECT 1`` within the look-up time-out."""

        async def select_one() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        try:
            await self.bounded(select_one(), "the readiness check")
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        POOL_CAPACITY.dec(self._capacity)
        self._capacity = 0
