"""All SQL of the events domain: the batch writer's inserts, reads, erasure, daily partitions and the
raw-event purge of retention.

On PostgreSQL the writer hands the server the stream messages as they are (JSON arrays of rows, see
:class:`EventRow`): one statement parses them (``jsonb_array_elements``), stores the new keys and then,
under the writers' advisory lock, the events whose key was new (:data:`PG_WRITE`).
On SQLite the same shape with ``json_each`` (see :func:`_insert_sqlite`). The writer process does no
per-event work at all."""

# ruff: noqa: S608  (SQL text is assembled from constants and compiled conditions; every value is bound)

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Text, cast, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.events.models import Event, EventKey
from experimently.events.validation import EventRow

WRITER_LOCK = 0x45564E54  # pg_advisory_xact_lock key serialising writers ("EVNT")
COLUMNS = [
    "event_id",
    "name",
    "user_id",
    "environment",
    "experiment_key",
    "variant",
    "value",
    "properties",
    "occurred_at",
    "ts_us",
    "received_at",
]
_COLS = ", ".join(COLUMNS)
_US = "timestamptz 'epoch' + ({}) * interval '1 microsecond'"  # exact: integer microseconds < 2**53
# Each message is a JSON array of rows in EventRow field order:
# [event_id, name, user_id, environment, experiment_key, variant, value, properties, ts_us, received_us]
# One statement, in three steps:
# - staged: parse, keep each id's first occurrence (message order, then position; the sort compares ids
#   bytewise, COLLATE "C": the same equality as the column's, without the locale's comparison);
# - fresh: store the new keys, outside the writers' lock (a key another writer has inserted and not
#   committed makes this one wait for that writer's end);
# - locked: once every key is stored (count(*) reads all of fresh), the writers' lock, held to the
#   commit; the uncorrelated EXISTS makes it a one-time filter over the insert's source, checked before
#   the first row reaches the insert, so no seq is drawn before the lock.
# Rows go in id order (sorting them back into arrival order cost ~7% of the server's time per event).
PG_WRITE = f"""
WITH staged AS MATERIALIZED (
    SELECT DISTINCT ON ((e.v->>0) COLLATE "C")
           e.v->>0 AS event_id, e.v->>1 AS name, e.v->>2 AS user_id, e.v->>3 AS environment,
           e.v->>4 AS experiment_key, e.v->>5 AS variant, (e.v->>6)::float8 AS value,
           e.v->7 AS properties, {_US.format("(e.v->>8)::int8")} AS occurred_at,
           (e.v->>8)::int8 AS ts_us, {_US.format("(e.v->>9)::int8")} AS received_at
    FROM unnest(CAST(:messages AS text[])) WITH ORDINALITY AS m(body, n)
    CROSS JOIN LATERAL jsonb_array_elements(m.body::jsonb) WITH ORDINALITY AS e(v, i)
    ORDER BY (e.v->>0) COLLATE "C", m.n, e.i
), fresh AS (
    INSERT INTO event_keys (event_id, occurred_at)
    SELECT event_id, occurred_at FROM staged
    ON CONFLICT DO NOTHING RETURNING event_id
), locked AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({WRITER_LOCK}) FROM (SELECT count(*) FROM fresh) AS every_key
)
INSERT INTO events ({_COLS})
SELECT {", ".join("s." + c for c in COLUMNS)}
FROM staged s JOIN fresh f ON f.event_id = s.event_id
WHERE EXISTS (SELECT 1 FROM locked)
"""

# SQLite: the staging table keeps the message's types; the merge formats the two datetimes exactly as
# SQLAlchemy stores them on SQLite ("YYYY-MM-DD HH:MM:SS.ffffff", UTC), so comparisons stay textual.
SQLITE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS events_incoming (event_id TEXT, name TEXT, user_id TEXT, "
    "environment TEXT, experiment_key TEXT, variant TEXT, value REAL, properties TEXT, ts_us INTEGER, "
    "received_us INTEGER)"
)
SQLITE_WRITE_LOCK = "DELETE FROM event_keys WHERE 0"  # deletes nothing; takes the write lock
SQLITE_STAGE_JSON = (
    "INSERT INTO temp.events_incoming SELECT "
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(10))
    + " FROM json_each(?)"
)
_SQLITE_TIME = "printf('%s.%06d', strftime('%Y-%m-%d %H:%M:%S', {0} / 1000000, 'unixepoch'), {0} % 1000000)"
SQLITE_MERGE_EVENTS = f"""
INSERT INTO events ({_COLS})
SELECT i.event_id, i.name, i.user_id, i.environment, i.experiment_key, i.variant, i.value, i.properties,
       {_SQLITE_TIME.format("i.ts_us")}, i.ts_us, {_SQLITE_TIME.format("i.received_us")}
FROM temp.events_incoming i
WHERE i.rowid IN (SELECT min(rowid) FROM temp.events_incoming GROUP BY event_id)
  AND NOT EXISTS (SELECT 1 FROM event_keys k WHERE k.event_id = i.event_id)
ORDER BY i.rowid
"""
SQLITE_MERGE_KEYS = f"""
INSERT INTO event_keys (event_id, occurred_at)
SELECT event_id, {_SQLITE_TIME.format("ts_us")} FROM temp.events_incoming WHERE true ORDER BY rowid
ON CONFLICT DO NOTHING
"""
_WIRE = json.JSONEncoder(separators=(",", ":"))


def encode_rows(rows: Sequence[EventRow]) -> str:
    """Rows to one wire message (a JSON array of arrays, one per row in field order).

    orjson (~6x faster than the standard encoder here) writes each ``EventRow`` through
    ``default=tuple``; validated rows hold no NaN, and a property integer beyond 64 bits, which orjson
    refuses, takes the standard encoder. Both write the same values (orjson leaves non-ASCII text
    unescaped and writes a float's exponent without padding), which is all the writers read."""
    listed = rows if isinstance(rows, list | tuple) else list(rows)
    try:
        return orjson.dumps(listed, default=tuple).decode()
    except orjson.JSONEncodeError:
        return _WIRE.encode(listed)


async def lock_writers(session: AsyncSession) -> None:
    """Serialise writers (PostgreSQL) so ``seq`` values commit in increasing order."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK})


async def insert_batch(session: AsyncSession, rows: Sequence[EventRow]) -> int:
    """Store the rows whose ``event_id`` is new; returns how many were stored."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return await _merge_messages(session, [encode_rows(rows)])
    return await _insert_sqlite(session, [encode_rows(rows)])


async def insert_messages(session: AsyncSession, messages: Sequence[str | bytes]) -> int:
    """Store the new rows of wire messages (see :func:`encode_rows`); returns how many were stored."""
    if not messages:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return await _merge_messages(session, [m if isinstance(m, str) else m.decode() for m in messages])
    return await _insert_sqlite(session, messages)


async def _merge_messages(session: AsyncSession, messages: list[str]) -> int:
    """Store the new rows of the messages in one statement (:data:`PG_WRITE`): deduplicated outside
    the writers' lock, stored under it.

    Concurrent writers overlap while they parse and store keys; the lock, held from the insert into
    ``events`` to the commit, is what orders ``seq``. A writer never waits on a key while it holds the
    lock, so the two kinds of wait form no cycle. Only a transaction that writes twice (a caller's own
    transaction writing exposures while the queue is down; callers write once where they can, see
    ``EventIngest.submit_groups``) stores its second keys under the lock; should they meet a writer's
    uncommitted key, PostgreSQL reports the deadlock and fails one of the two, which is retried (a
    writer's batch stays in the queue)."""
    result: Any = await session.execute(text(PG_WRITE), {"messages": messages})
    return int(result.rowcount)


async def _insert_sqlite(session: AsyncSession, messages: Sequence[str | bytes]) -> int:
    """SQLite: the same shape as PostgreSQL's writer. The messages (JSON arrays of rows) go to the
    driver as they are; SQLite parses them (``json_each``) into a per-connection staging table, then two
    statements store the events whose key is new (first occurrence in the batch wins, in batch order,
    so ``seq`` follows arrival) and their keys.

    The write lock is taken first (:data:`SQLITE_WRITE_LOCK`): ``json_each`` opens a read snapshot of
    the main database, and a transaction that read before another connection committed cannot take
    the lock later (SQLite answers "database is locked" at once, without waiting). Taken first, the
    lock waits its turn (``busy_timeout``) and everything after it reads the latest ``event_keys``."""
    conn = await session.connection()
    await conn.execute(text(SQLITE_STAGE))  # through SQLAlchemy: it owns the transaction
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    bodies = [(m if isinstance(m, str) else m.decode(),) for m in messages]
    for statement in (SQLITE_WRITE_LOCK, "DELETE FROM temp.events_incoming"):
        await (await driver.execute(statement)).close()
    await (await driver.executemany(SQLITE_STAGE_JSON, bodies)).close()
    cursor = await driver.execute(SQLITE_MERGE_EVENTS)
    stored = int(cursor.rowcount)
    await cursor.close()
    await (await driver.execute(SQLITE_MERGE_KEYS)).close()
    return stored


async def recent(
    session: AsyncSession,
    *,
    name: str | None,
    user_id: str | None,
    experiment_key: str | None,
    since_us: int | None,
    limit: int,
) -> Sequence[Event]:
    query = select(Event)
    if name:
        query = query.where(Event.name == name)
    if user_id:
        query = query.where(Event.user_id == user_id)
    if experiment_key:
        query = query.where(Event.experiment_key == experiment_key)
    if since_us is not None:
        query = query.where(Event.ts_us >= since_us)
    return (await session.scalars(query.order_by(Event.seq.desc()).limit(limit))).all()


async def events_of_user(session: AsyncSession, user_id: str) -> Sequence[Event]:
    query = select(Event).where(Event.user_id == user_id).order_by(Event.seq)
    return (await session.scalars(query)).all()


async def erase_user(session: AsyncSession, user_id: str) -> int:
    """Delete a user's events and their idempotency keys (the exposure keys embed the user id)."""
    ids = select(Event.event_id).where(Event.user_id == user_id).scalar_subquery()
    await session.execute(delete(EventKey).where(EventKey.event_id.in_(ids)))
    result = await session.execute(delete(Event).where(Event.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE has rowcount


# --- daily partitions (PostgreSQL) and retention -------------------------------------------------

PARTITION = re.compile(r"^events_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"events_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def create_partition(session: AsyncSession, day: date) -> None:
    """Create one day's partition, moving rows the default partition caught for that day."""
    name = partition_name(day)
    low, high = _bounds(day)
    await session.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)"))
    await session.execute(
        text(
            f"WITH moved AS (DELETE FROM events_default WHERE occurred_at >= :lo "
            f"AND occurred_at < :hi RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lo": low, "hi": high},
    )
    span = f"FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
    await session.execute(text(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES {span}"))


async def _partitions(session: AsyncSession) -> list[tuple[str, date | None, float]]:
    """Every partition of ``events``: its name, its day (``None`` for the default partition) and the
    planner's row count (``reltuples``: 0 for a table analysed empty, -1 for one not analysed yet)."""
    rows = await session.execute(
        text(
            "SELECT c.relname, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
        )
    )
    found: list[tuple[str, date | None, float]] = []
    for relname, reltuples in rows:
        match = PARTITION.match(relname)
        day = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date() if match else None
        found.append((relname, day, float(reltuples)))
    return found


async def existing_partitions(session: AsyncSession) -> dict[date, str]:
    return {day: name for name, day, _ in await _partitions(session) if day is not None}


async def populated_partitions(session: AsyncSession, first: date | None, last: date) -> int:
    """How many partitions of ``events`` hold rows, counting the daily ones from ``first`` (every day when
    ``None``) to ``last`` and the default partition, by the planner's statistics (a partition not
    analysed yet counts as holding rows). An index lookup by user descends each partition it may find
    rows in; an incremental aggregation weighs that."""
    return sum(
        1
        for _, day, rows in await _partitions(session)
        if rows != 0 and (day is None or ((first is None or day >= first) and day <= last))
    )


async def _drop_old_partitions(session: AsyncSession, cutoff: datetime) -> int:
    dropped = 0
    for day, name in sorted((await existing_partitions(session)).items()):
        if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) <= cutoff:
            await session.execute(text(f"DROP TABLE {name}"))
            dropped += 1
    return dropped


async def purge_before(session: AsyncSession, cutoff: datetime) -> int:
    """Raw events before ``cutoff``: whole partitions on PostgreSQL, plus stray rows by DELETE; returns
    partitions dropped plus rows deleted."""
    dropped = 0
    if session.get_bind().dialect.name == "postgresql":
        await lock_writers(session)
        dropped = await _drop_old_partitions(session, cutoff)
    result = await session.execute(delete(Event).where(Event.occurred_at < cutoff))
    await session.execute(delete(EventKey).where(EventKey.occurred_at < cutoff))
    return dropped + int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result


async def with_encrypted_properties(session: AsyncSession, after_seq: int, limit: int) -> list[Event]:
    """Events after ``after_seq`` whose properties hold an encrypted value, in ``seq`` order (the
    re-encryption walk of PII properties)."""
    query = (
        select(Event)
        .where(Event.seq > after_seq, cast(Event.properties, Text).like("%fernet:%"))
        .order_by(Event.seq)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
