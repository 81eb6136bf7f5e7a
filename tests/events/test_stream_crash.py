"""Crash safety of the production shape (real Redis + PostgreSQL): a consumer that dies after reading
(before committing) and one that dies after committing but before acknowledging; a live consumer
claims their pending messages and every event ends up stored exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from experimently.events.pipeline import StreamPipeline
from tests.conftest import Harness
from tests.events.helpers import pending_in_stream, stored_and_distinct


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"event_claim_idle_ms": 100, "event_stream_read_count": 2}


async def test_dead_consumers__pending_claimed__each_event_stored_once(harness: Harness) -> None:
    if harness.backend != "postgres":
        pytest.skip("the Redis Stream pipeline exists only when Redis is configured (postgres backend)")
    live = harness.runtime.pipeline
    assert isinstance(live, StreamPipeline)
    await live.stop()  # the harness's own writer must not read first
    key = await harness.api_key(["track"])
    for start in range(0, 600, 100):
        batch = [{"event_id": f"e{i}", "name": "c", "user_id": f"u{i}"} for i in range(start, start + 100)]
        response = await harness.client.post("/api/v1/events/batch", json={"events": batch}, headers=key)
        assert response.status_code == 202
    settings, db, redis = harness.settings, harness.runtime.db, harness.runtime.redis
    assert redis is not None
    died_before_commit = StreamPipeline(db, redis, settings, consumer="dead-1")
    assert len(await died_before_commit.read(block_ms=10)) == 2  # read, never written, never acked
    died_after_commit = StreamPipeline(db, redis, settings, consumer="dead-2")
    taken = await died_after_commit.read(block_ms=10)
    assert await died_after_commit.process(taken, ack=False) == 200  # committed, ack lost
    survivor = StreamPipeline(db, redis, settings, consumer="survivor")
    await survivor.start()
    await survivor.flush(wait_seconds=20)
    await survivor.stop()
    assert await pending_in_stream(harness) == 0
    total, distinct = await stored_and_distinct(harness)
    assert total == distinct == 600


KILLED_WORKER = """
import asyncio, json, os, signal, sys
from experimently.config import Settings
from experimently.db import Database
from experimently.events.pipeline import StreamPipeline
from redis.asyncio import Redis

async def main() -> None:
    settings = Settings(**json.loads(sys.argv[1])).resolve()
    redis = Redis.from_url(settings.redis_url)
    pipeline = StreamPipeline(Database(settings), redis, settings, consumer="killed")
    taken = await pipeline.read(block_ms=2000)
    print(len(taken), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding what it read: nothing written, nothing acked

asyncio.run(main())
"""


async def test_worker_process_killed_after_reading__restart_stores_each_event_once(harness: Harness) -> None:
    if harness.backend != "postgres":
        pytest.skip("the Redis Stream pipeline exists only when Redis is configured (postgres backend)")
    import asyncio
    import json
    import sys

    live = harness.runtime.pipeline
    assert isinstance(live, StreamPipeline)
    await live.stop()
    key = await harness.api_key(["track"])
    batch = [{"event_id": f"k{i}", "name": "c", "user_id": f"u{i}"} for i in range(300)]
    for start in range(0, 300, 100):
        response = await harness.client.post(
            "/api/v1/events/batch", json={"events": batch[start : start + 100]}, headers=key
        )
        assert response.status_code == 202
    s = harness.settings
    config = {
        "database_url": s.database_url,
        "redis_url": s.redis_url,
        "secret_key": s.secret,
        "encryption_keys": s.encryption_keys.get_secret_value() if s.encryption_keys else None,
        "data_dir": str(s.data_dir),
        "event_claim_idle_ms": 100,
        "event_stream_read_count": 2,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_WORKER, json.dumps(config), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == -9 and int(out.decode().strip()) == 2  # read two messages, then SIGKILL
    redis = harness.runtime.redis
    assert redis is not None
    assert await pending_in_stream(harness) == 2
    restarted = StreamPipeline(harness.runtime.db, redis, s, consumer="restarted")
    await restarted.start()
    await restarted.flush(wait_seconds=20)
    await restarted.stop()
    assert await pending_in_stream(harness) == 0
    total, distinct = await stored_and_distinct(harness)
    assert total == distinct == 300
