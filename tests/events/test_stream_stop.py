"""Stopping the Redis Stream writer (production shape): an idle writer does not hold a shutdown for
its blocking read, and writers stopped at any moment while events arrive lose none of them."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from experimently.events.pipeline import StreamPipeline
from tests.conftest import Harness
from tests.events.helpers import pending_in_stream, stored_and_distinct


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"event_claim_idle_ms": 100, "event_stream_read_count": 50}


def _live(harness: Harness) -> StreamPipeline:
    if harness.backend != "postgres":
        pytest.skip("the Redis Stream pipeline exists only when Redis is configured (postgres backend)")
    live = harness.runtime.pipeline
    assert isinstance(live, StreamPipeline)
    return live


async def test_idle_writer__stops_without_waiting_out_its_blocking_read(harness: Harness) -> None:
    await _live(harness).stop()
    assert harness.runtime.redis is not None
    # the production claim time: stop() would otherwise give up waiting after this module's 100 ms
    settings = harness.settings.model_copy(update={"event_claim_idle_ms": 30_000})
    writer = StreamPipeline(harness.runtime.db, harness.runtime.redis, settings, consumer="idle")
    await writer.start()
    await asyncio.sleep(0.1)  # now inside XREADGROUP, which blocks for a second when nothing comes
    started = time.perf_counter()
    await writer.stop()
    assert time.perf_counter() - started < 0.5


async def test_writers_stopped_at_any_moment_while_events_arrive__each_event_stored_once(
    harness: Harness,
) -> None:
    live = _live(harness)
    await live.stop()
    settings, db, redis = harness.settings, harness.runtime.db, harness.runtime.redis
    assert redis is not None
    key = await harness.api_key(["track"])
    rng = random.Random(7)
    sent = 0
    for round_ in range(12):
        writer = StreamPipeline(db, redis, settings, consumer=f"writer-{round_}")
        await writer.start()
        for _ in range(3):
            batch = [{"event_id": f"e{sent + i}", "name": "c", "user_id": f"u{sent + i}"} for i in range(40)]
            response = await harness.client.post("/api/v1/events/batch", json={"events": batch}, headers=key)
            assert response.status_code == 202
            sent += len(batch)
            await asyncio.sleep(rng.uniform(0, 0.02))
        await asyncio.sleep(rng.uniform(0, 0.05))  # stopped mid-read, mid-batch or idle
        await writer.stop()
    survivor = StreamPipeline(db, redis, settings, consumer="survivor")
    await survivor.start()
    await survivor.flush(wait_seconds=20)
    await asyncio.sleep(0.3)  # past the claim idle time: anything left pending is claimed
    await survivor.flush(wait_seconds=20)
    await survivor.stop()
    assert await pending_in_stream(harness) == 0
    total, distinct = await stored_and_distinct(harness)
    assert total == distinct == sent == 12 * 3 * 40
