"""A process that writes runs ``EVENT_WRITERS`` writer loops (2 by default), each a consumer of the
stream: while one waits for the writers' lock, the other reads and writes the next batch."""

from __future__ import annotations

import asyncio

import pytest

from experimently.events import repository
from experimently.events.pipeline import StreamPipeline
from tests.conftest import Harness
from tests.events.helpers import flush, post_batch, stored


async def _pending_by_consumer(pipeline: StreamPipeline) -> dict[str, int]:
    consumers = await pipeline.redis.xinfo_consumers(pipeline.stream, pipeline.group)
    return {
        (c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])): int(c["pending"])
        for c in consumers
    }


async def test_two_writer_loops__second_batch_read_while_the_first_waits_for_the_lock(
    harness: Harness,
) -> None:
    pipeline = harness.runtime.pipeline
    if not isinstance(pipeline, StreamPipeline):
        pytest.skip("the writer loops are the Redis Stream pipeline's (postgres backend)")
    assert harness.settings.event_writers == 2
    key = await harness.api_key(["track"])
    mine = {pipeline.consumer, f"{pipeline.consumer}.2"}
    # Given a writer between its insert and its commit (the writers' lock held elsewhere)
    async with harness.runtime.db.sessions() as holder:
        await repository.lock_writers(holder)
        # When two batches arrive one after the other
        first = await post_batch(harness, key, [{"event_id": "w1", "name": "c", "user_id": "u1"}])
        assert first.status_code == 202, first.text
        for _ in range(200):
            if sum((await _pending_by_consumer(pipeline)).values()) == 1:
                break
            await asyncio.sleep(0.02)
        second = await post_batch(harness, key, [{"event_id": "w2", "name": "c", "user_id": "u2"}])
        assert second.status_code == 202, second.text
        # Then each of this process's two loops holds one of them, waiting for the lock
        pending: dict[str, int] = {}
        for _ in range(200):
            pending = await _pending_by_consumer(pipeline)
            if all(pending.get(name) == 1 for name in mine):
                break
            await asyncio.sleep(0.02)
        assert {name: pending.get(name) for name in mine} == dict.fromkeys(mine, 1)
        await holder.rollback()
    # And once the lock is free both are stored, once each
    await flush(harness)
    assert await stored(harness) == ["w1", "w2"]
