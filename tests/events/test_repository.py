"""The batch writer's SQL on both databases: one event per ``event_id`` (first occurrence in a batch
wins, an id already stored is skipped), and every column stored exactly as
the ORM would store it (on SQLite the datetimes are text: a wrong format would break comparisons)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.events import repository
from experimently.events.models import Event, EventKey
from experimently.events.validation import EventRow
from experimently.kit.clock import from_us
from tests.conftest import Harness

BASE_US = 1_796_000_000_123_456  # 2026-11-30, with microseconds
LOCK_WAITS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND NOT granted"


def row(event_id: str, *, value: float | None = 1.0, ts_us: int = BASE_US, **props: object) -> EventRow:
    return EventRow(
        event_id, "purchase", "u1", "production", "exp", "b", value, dict(props), ts_us, ts_us + 7
    )


async def index_and_plan(
    session: AsyncSession, backend: str, index: str, query: str, params: dict[str, Any]
) -> tuple[str, str]:
    """An index's definition as the database stores it, and the plan of ``query`` with sequential and
    (PostgreSQL) bitmap scans priced out, so the plan shows whether the index can serve the query."""
    if backend == "postgres":
        found = "SELECT indexdef FROM pg_indexes WHERE indexname = :i"
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        explain = "EXPLAIN"
    else:
        found, explain = "SELECT sql FROM sqlite_master WHERE name = :i", "EXPLAIN QUERY PLAN"
    definition = await session.scalar(text(found), {"i": index})
    plan = " ".join(str(cells[-1]) for cells in await session.execute(text(f"{explain} {query}"), params))
    return str(definition), plan


async def test_insert_batch__duplicates_in_batch_and_stored__first_occurrence_stored_once(
    harness: Harness,
) -> None:
    # Given one event already stored
    async with harness.runtime.db.transaction() as session:
        assert await repository.insert_batch(session, [row("old", value=0.5)]) == 1
    # When a batch repeats it and holds a duplicate of its own
    batch = [row("z", value=1.0), row("old", value=9.0), row("a", value=2.0), row("z", value=3.0)]
    batch.append(row("m", value=None, ts_us=BASE_US + 999_999, plan="pro", name="é ✓"))
    async with harness.runtime.db.transaction() as session:
        stored = await repository.insert_batch(session, batch)
    # Then only the new ids are stored, once each, the first occurrence
    assert stored == 3
    async with harness.runtime.db.transaction() as session:
        events = (await session.scalars(select(Event).order_by(Event.seq))).all()
        keys = (await session.scalars(select(EventKey).order_by(EventKey.event_id))).all()
    assert sorted((e.event_id, e.value or 0.0) for e in events) == [
        ("a", 2.0),
        ("m", 0.0),
        ("old", 0.5),
        ("z", 1.0),
    ]
    assert events[0].event_id == "old"  # committed earlier, smaller seq
    assert [k.event_id for k in keys] == ["a", "m", "old", "z"]
    last = next(e for e in events if e.event_id == "m")
    assert last.properties == {"plan": "pro", "name": "é ✓"}
    assert (last.name, last.user_id, last.environment, last.experiment_key, last.variant) == (
        "purchase",
        "u1",
        "production",
        "exp",
        "b",
    )
    assert last.ts_us == BASE_US + 999_999
    assert last.occurred_at == from_us(BASE_US + 999_999)
    assert last.received_at == from_us(BASE_US + 999_999 + 7)
    assert {k.event_id: k.occurred_at for k in keys}["m"] == from_us(BASE_US + 999_999)


async def test_insert_messages__datetimes_compare_exactly_with_bound_parameters(harness: Harness) -> None:
    # Given events whose times differ by one microsecond, written from wire messages
    rows = [row(f"e{i}", ts_us=BASE_US + i) for i in range(3)]
    async with harness.runtime.db.transaction() as session:
        stored = await repository.insert_messages(
            session, [repository.encode_rows(rows[:2]), repository.encode_rows(rows[2:]).encode()]
        )
    assert stored == 3
    # When they are filtered by a bound datetime (textual comparison on SQLite)
    async with harness.runtime.db.transaction() as session:
        exact = (
            await session.scalars(select(Event.event_id).where(Event.occurred_at == from_us(BASE_US + 1)))
        ).all()
        later = (
            await session.scalars(
                select(Event.event_id).where(Event.occurred_at >= from_us(BASE_US + 1)).order_by(Event.seq)
            )
        ).all()
        key_later = (
            await session.scalars(
                select(EventKey.event_id).where(EventKey.occurred_at > from_us(BASE_US + 1))
            )
        ).all()
    # Then the stored format orders and matches like the ORM's own
    assert list(exact) == ["e1"]
    assert list(later) == ["e1", "e2"]
    assert list(key_later) == ["e2"]


async def test_insert_batch__concurrent_overlapping_batches__each_id_stored_once(harness: Harness) -> None:
    # Given two writers with overlapping batches (ids 0-599 and 400-999) in concurrent transactions
    async def write(ids: range) -> int:
        async with harness.runtime.db.transaction() as session:
            return await repository.insert_batch(session, [row(f"c{i}") for i in ids])

    # When both commit
    stored = await asyncio.gather(write(range(600)), write(range(400, 1000)))
    # Then every id is stored once, and the counts say which writer stored it
    assert sum(stored) == 1000
    async with harness.runtime.db.transaction() as session:
        ids = (await session.scalars(select(Event.event_id))).all()
        keys = (await session.scalars(select(EventKey.event_id))).all()
    assert len(ids) == 1000 and set(ids) == {f"c{i}" for i in range(1000)}
    assert sorted(keys) == sorted(ids)


async def test_insert_batch__twice_in_one_transaction__each_id_stored_once(
    harness: Harness,
) -> None:
    # Given one transaction that merges two overlapping batches (a caller's own transaction writing
    # exposures of two experiments while the queue is down)
    async with harness.runtime.db.transaction() as session:
        first = await repository.insert_batch(session, [row("z"), row("a"), row("m")])
        second = await repository.insert_batch(session, [row("a", value=5.0), row("b"), row("y")])
    # Then each id is stored once (the first batch's rows are not stored again by the second merge),
    # the first occurrence, the first merge's before the second's
    assert (first, second) == (3, 2)
    async with harness.runtime.db.transaction() as session:
        events = (await session.execute(select(Event.event_id, Event.value).order_by(Event.seq))).all()
    assert len(events) == 5 and {value for _id, value in events} == {1.0}
    assert {e for e, _v in events[:3]} == {"z", "a", "m"} and {e for e, _v in events[3:]} == {"b", "y"}


async def test_insert_messages__duplicates__the_first_occurrence_wins(harness: Harness) -> None:
    # Given two wire messages of one batch carrying the same id with different values, the first one
    # also later in itself, among a thousand other ids (enough rows for the sort to reorder equal keys)
    first = [row(f"f{i}") for i in range(1000)]
    first[300], first[900] = row("x", value=1.0), row("x", value=5.0)
    messages = [repository.encode_rows(first), repository.encode_rows([row("x", value=2.0)])]
    async with harness.runtime.db.transaction() as session:
        stored = await repository.insert_messages(session, messages)
    # Then the first occurrence is the one stored
    async with harness.runtime.db.transaction() as session:
        values = (await session.scalars(select(Event.value).where(Event.event_id == "x"))).all()
    assert (stored, list(values)) == (999, [1.0])


async def test_insert_batch__writer_rolls_back__the_waiting_writer_stores_its_keys(harness: Harness) -> None:
    # Given a writer that stored ids c0-c4 and has not committed
    async with harness.runtime.db.sessions() as holder:
        assert await repository.insert_batch(holder, [row(f"c{i}") for i in range(5)]) == 5

        async def overlapping() -> int:
            async with harness.runtime.db.transaction() as session:
                return await repository.insert_batch(session, [row(f"c{i}", value=2.0) for i in range(3, 8)])

        # When a second writer with ids c3-c7 starts, it waits (on the keys on PostgreSQL, on the write
        # lock on SQLite) ...
        second = asyncio.create_task(overlapping())
        await asyncio.sleep(0.3)
        assert not second.done()
        # ... and the first rolls back
        await holder.rollback()
        stored = await asyncio.wait_for(second, timeout=10)
    # Then the second writer stored all of its ids, and nothing of the first remains
    async with harness.runtime.db.transaction() as session:
        ids = (await session.scalars(select(Event.event_id).order_by(Event.seq))).all()
        keys = (await session.scalars(select(EventKey.event_id).order_by(EventKey.event_id))).all()
    assert stored == 5
    assert list(ids) == [f"c{i}" for i in range(3, 8)]
    assert list(keys) == [f"c{i}" for i in range(3, 8)]


async def test_insert_batch__writers_lock_held_elsewhere__keys_stored_but_no_seq_drawn(
    harness: Harness,
) -> None:
    if harness.backend != "postgres":
        pytest.skip("the writers' advisory lock and the seq sequence are PostgreSQL's")
    # Given another transaction holding the writers' lock (a writer between its insert and commit)
    async with harness.runtime.db.sessions() as holder:
        await repository.lock_writers(holder)
        drawn = "SELECT last_value, is_called FROM events_seq_seq"
        before = (await holder.execute(text(drawn))).one()

        async def write() -> int:
            async with harness.runtime.db.transaction() as session:
                return await repository.insert_batch(session, [row(f"s{i}") for i in range(50)])

        # When a writer writes a batch meanwhile
        task = asyncio.create_task(write())
        # Then it waits for the lock with its keys stored and without drawing any seq (sequences are
        # not transactional: a value drawn would show), so seq values still commit in order
        waiting = 0
        for _ in range(250):  # up to 5 s on a loaded machine
            waiting = await holder.scalar(text(LOCK_WAITS), {"k": repository.WRITER_LOCK})
            if waiting:
                break
            await asyncio.sleep(0.02)
        assert waiting == 1
        assert not task.done()
        assert (await holder.execute(text(drawn))).one() == before
        await holder.rollback()
        assert await asyncio.wait_for(task, timeout=10) == 50


async def test_event_keys_time_index__brin_on_postgres__serves_the_purge(harness: Harness) -> None:
    # Given the migrated schema, When the purge's predicate is planned with sequential scans priced out
    async with harness.runtime.db.transaction() as session:
        if harness.backend != "postgres":
            found = await session.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
            assert "ix_event_keys_occurred_at" in {name for (name,) in found}  # SQLite keeps its B-tree
            return
        definition = await session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_event_keys_occurred_at'")
        )
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            line
            for (line,) in await session.execute(
                text("EXPLAIN DELETE FROM event_keys WHERE occurred_at < now() - interval '90 days'")
            )
        )
    # Then the index is a BRIN (nothing per event for the writers' merge) and the purge reads through it
    assert "USING brin (occurred_at)" in str(definition)
    assert "ix_event_keys_occurred_at" in plan, plan


async def test_experiment_index__partial__holds_only_keyed_events__and_serves_a_keyed_filter(
    harness: Harness,
) -> None:
    # Given one event with an experiment key and one without (what track sends)
    keyed = row("keyed")
    bare = EventRow("bare", "purchase", "u1", "production", None, None, 1.0, {}, BASE_US, BASE_US + 7)
    async with harness.runtime.db.transaction() as session:
        assert await repository.insert_batch(session, [keyed, bare]) == 2
    async with harness.runtime.db.transaction() as session:
        definition, plan = await index_and_plan(
            session,
            harness.backend,
            "ix_events_experiment_time",
            "SELECT seq FROM events WHERE experiment_key = :k",
            {"k": "exp"},
        )
        # When the events are read by experiment key (the aggregation's exposures, the events API)
        found = await repository.recent(
            session, name=None, user_id=None, experiment_key="exp", since_us=None, limit=10
        )
    # Then the index is partial, the keyed filter reads through it, and the answer is unchanged
    assert "experiment_key IS NOT NULL" in definition
    assert "ix_events_experiment_time" in plan or "experiment_key_occurred_at_idx" in plan, plan
    assert [e.event_id for e in found] == ["keyed"]


async def test_name_index__ordered_by_seq__serves_the_newest_events_of_a_name(harness: Harness) -> None:
    # Given events of two names, stored in an order unlike their client timestamps
    rows = [row(f"p{i}", ts_us=BASE_US - i * 1_000_000) for i in range(5)]
    rows += [EventRow(f"v{i}", "view", "u2", None, None, None, None, {}, BASE_US, BASE_US) for i in range(3)]
    async with harness.runtime.db.transaction() as session:
        assert await repository.insert_batch(session, rows) == 8
    async with harness.runtime.db.transaction() as session:
        definition, plan = await index_and_plan(
            session,
            harness.backend,
            "ix_events_name_seq",
            "SELECT seq FROM events WHERE name = :n ORDER BY seq DESC LIMIT 2",
            {"n": "view"},
        )
        # When the newest events of one name are read (GET /events?name=...)
        found = await repository.recent(
            session, name="purchase", user_id=None, experiment_key=None, since_us=None, limit=3
        )
    # Then the index is (name, seq), the query reads it, and the answer is the newest by seq
    assert "(name, seq)" in definition.replace('"', "")
    assert "name_seq" in plan, plan
    assert [e.event_id for e in found] == ["p4", "p3", "p2"]
