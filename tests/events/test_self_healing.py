"""The Redis Stream pipeline heals itself: a Redis restarted empty (stream and group gone) is written
again without a restart of ours; a database outage leaves the backlog unread in the stream (one batch
in hand) so it drains at the writer's normal speed; dead consumers go; the pending counter is
reconciled; ``/ready`` says when Redis keeps no append-only file."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError
from sqlalchemy import func, select

from experimently.events.models import Event
from experimently.events.pipeline import QUEUE_DEPTH, StreamPipeline
from tests.conftest import Harness, start_harness
from tests.private_services import PrivateRedis, available, fresh_schema, private_postgres
from tests.private_services import private_redis as start_private_redis

pytestmark = pytest.mark.skipif(not available(), reason="needs redis-server and initdb on PATH")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with start_private_redis() as server:
        yield server


@pytest.fixture
async def stream_harness(
    tmp_path: Path, private_redis: PrivateRedis, migrated_sqlite: Path
) -> AsyncIterator[Harness]:
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    async with start_harness("sqlite", tmp_path, redis_url=private_redis.url) as h:
        yield h


async def _stored(h: Harness) -> int:
    async with h.runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


async def _send(h: Harness, key: dict[str, str], prefix: str, count: int) -> None:
    events = [{"event_id": f"{prefix}{i}", "name": "c", "user_id": f"u{i}"} for i in range(count)]
    for start in range(0, count, 50):
        response = await h.client.post(
            "/api/v1/events/batch", json={"events": events[start : start + 50]}, headers=key
        )
        assert response.status_code == 202, response.text


async def _until_stored(h: Harness, expected: int) -> int:
    for _ in range(400):
        stored = await _stored(h)
        if stored >= expected:
            return stored
        await asyncio.sleep(0.05)
    return await _stored(h)


async def test_redis_restarted_empty__group_recreated__events_written(
    stream_harness: Harness, private_redis: PrivateRedis
) -> None:
    # Given a working pipeline
    h = stream_harness
    key = await h.api_key(["track"])
    await _send(h, key, "a", 100)
    assert await _until_stored(h, 100) == 100
    # When Redis restarts with nothing (no stream, no group, no counter)
    private_redis.stop()
    private_redis.wipe()
    private_redis.start()
    # Then accepted events are written again, without restarting the app
    for _ in range(100):
        ok = await h.client.post(
            "/api/v1/events", json={"event_id": "probe", "name": "c", "user_id": "p"}, headers=key
        )
        if ok.status_code == 202:
            break
        await asyncio.sleep(0.05)
    await _send(h, key, "b", 100)
    assert await _until_stored(h, 201) == 201
    pipeline = h.runtime.pipeline
    assert isinstance(pipeline, StreamPipeline)
    counted = None
    for _ in range(5):  # the test's own pooled connections may still be the ones Redis closed
        try:
            counted = await pipeline.reconcile_pending()
            break
        except ConnectionError:
            continue
    assert counted == 0


async def test_counter_reconciled_and_dead_consumers_removed(stream_harness: Harness) -> None:
    h = stream_harness
    pipeline = h.runtime.pipeline
    assert isinstance(pipeline, StreamPipeline)
    redis = h.runtime.redis
    assert redis is not None
    # Given a counter that drifted and two consumers that died, one of them holding a message
    await redis.set(pipeline.counter, 999)
    assert await pipeline.reconcile_pending() == 0
    await pipeline.stop()
    key = await h.api_key(["track"])
    await _send(h, key, "x", 1)
    holder = StreamPipeline(h.runtime.db, redis, h.settings, consumer="dead-holding")
    assert len(await holder.read(block_ms=10)) == 1
    assert await redis.xgroup_createconsumer(pipeline.stream, pipeline.group, "dead-idle") == 1
    await redis.set(pipeline.counter, -5)
    assert await pipeline.reconcile_pending() == 1
    # When dead consumers are swept
    removed = await pipeline.remove_dead_consumers(idle_ms=0)
    # Then the one with nothing pending goes; the one holding a message stays until it is claimed
    assert "dead-idle" in removed and "dead-holding" not in removed
    names = {c["name"].decode() for c in await redis.xinfo_consumers(pipeline.stream, pipeline.group)}
    assert "dead-holding" in names and "dead-idle" not in names


async def test_queue_depth_gauge__follows_the_shared_queue__not_a_process_s_last_enqueue(
    stream_harness: Harness,
) -> None:
    """The gauge was set only when a process queued events: after the backlog drained, a process that
    had queued 3,050 kept reporting 3,050 (and a worker, which queues nothing, 0 during a backlog)."""
    h = stream_harness
    pipeline = h.runtime.pipeline
    assert isinstance(pipeline, StreamPipeline)
    key = await h.api_key(["track"])
    await pipeline.stop()  # no writer: what is queued stays queued
    await _send(h, key, "x", 3)
    QUEUE_DEPTH.set(3050)  # as left by an earlier enqueue, before a drain elsewhere
    assert _depth((await h.client.get("/metrics")).text) == 3
    # When another process's writer drains the queue, Then the next scrape says so
    writer = StreamPipeline(h.runtime.db, h.runtime.redis, h.settings, consumer="elsewhere")  # type: ignore[arg-type]
    await writer.process(await writer.read(block_ms=10))
    assert _depth((await h.client.get("/metrics")).text) == 0


def _depth(metrics: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith("experimently_events_queue_depth "))
    return float(line.split()[1])


async def test_ready__reports_redis_without_append_only_file(stream_harness: Harness) -> None:
    body = (await stream_harness.client.get("/ready")).json()["data"]
    assert body["redis"] is True and body["redis_persistence"] == "off"


async def test_database_outage__backlog_left_in_stream__drains_after(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    with private_postgres() as pg:
        await fresh_schema(pg.url)
        async with start_harness("sqlite", tmp_path, database_url=pg.url, redis_url=private_redis.url) as h:
            key = await h.api_key(["track"])
            await _send(h, key, "w", 50)
            assert await _until_stored(h, 50) == 50
            pipeline = h.runtime.pipeline
            assert isinstance(pipeline, StreamPipeline)
            redis = h.runtime.redis
            assert redis is not None
            # When the database stops while events keep arriving
            pg.stop()
            await _send(h, key, "o", 1000)
            await asyncio.sleep(1.0)
            # Then the writer holds at most one batch; the rest waits unread in the stream
            pending = await redis.xpending(pipeline.stream, pipeline.group)
            assert pending["pending"] <= h.settings.event_stream_read_count
            assert await pipeline.depth() == 1000
            # When it is back, everything is written once
            pg.start()
            assert await _until_stored(h, 1050) == 1050
            await pipeline.flush(wait_seconds=20)
            assert await pipeline.depth() == 0
