"""``Pipeline.settle``: "aggregate now" first waits for the events accepted before it to be written,
so that it counts what a client has just sent (an SDK's ``flush`` returns once the server accepted its
events, not once they are stored)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy import text

from experimently.events import repository
from experimently.events.ingest import EventIngest
from experimently.events.pipeline import EmbeddedPipeline, Pipeline, StreamPipeline
from experimently.metrics.aggregation import load_snapshot
from tests.conftest import Harness
from tests.events.helpers import Event, count_rows, flush, post_batch


def _idle_pipeline(harness: Harness) -> tuple[Pipeline, str | None]:
    """A second queue of the harness's kind, not started (no writer drains it); the Redis one on its
    own stream key (returned, to delete afterwards)."""
    if harness.runtime.redis is None:
        return EmbeddedPipeline(harness.runtime.db, harness.settings), None
    settings = harness.settings.model_copy(update={"event_stream_key": "experimently:test-settle"})
    return StreamPipeline(harness.runtime.db, harness.runtime.redis, settings), settings.event_stream_key


async def test_settle__waits_for_what_was_accepted_before_it__then_says_zero(harness: Harness) -> None:
    pipeline, key = _idle_pipeline(harness)
    try:
        if isinstance(pipeline, StreamPipeline):
            await pipeline.ensure_group()
        assert await pipeline.settle(0.05) == 0  # nothing accepted: nothing to wait for
        ingest = EventIngest(harness.settings, pipeline)
        events = [{"name": "settle", "user_id": f"u{i}"} for i in range(5)]
        assert (await ingest.submit(events, environment=None)).accepted == 5
        # nobody writes them: it waits as long as it is told, then says how many are waiting
        assert await pipeline.settle(0.1) == 5
        # a writer starts while it waits: it returns once they are stored
        waiting = asyncio.create_task(pipeline.settle(10))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await pipeline.start()
        try:
            assert await asyncio.wait_for(waiting, 10) == 0
            assert await count_rows(harness, Event, name="settle") == 5
        finally:
            await pipeline.stop()
    finally:
        if key is not None:
            assert harness.runtime.redis is not None
            await harness.runtime.redis.delete(key, f"{key}:pending")


async def test_settle__redis_unreachable__none_at_once(harness: Harness) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        pipeline = StreamPipeline(harness.runtime.db, unreachable, harness.settings)
        assert await asyncio.wait_for(pipeline.settle(5), 3) is None
    finally:
        await unreachable.aclose()


async def _experiment(harness: Harness) -> dict[str, str]:
    admin = await harness.admin()
    metric = {"key": "clicks", "name": "Clicks", "kind": "count", "event_name": "click"}
    made = await harness.client.post("/api/v1/metrics", json=metric, headers=admin)
    assert made.status_code == 201, made.text
    created = await harness.client.post(
        "/api/v1/experiments",
        json={
            "key": "settle",
            "name": "Settle",
            "primary_metric": "clicks",
            "variants": [
                {"key": "control", "weight": 50, "is_control": True},
                {"key": "treatment", "weight": 50},
            ],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    started = await harness.client.post("/api/v1/experiments/settle/start", headers=admin)
    assert started.status_code == 200, started.text
    return admin


async def _assign(harness: Harness, units: int) -> None:
    evaluate = await harness.api_key(["evaluate"])
    ids = [{"unit_id": f"s{i}"} for i in range(units)]
    bulk = await harness.client.post(
        "/api/v1/experiments/settle/assign/bulk", json={"units": ids}, headers=evaluate
    )
    assert bulk.status_code == 200, bulk.text


async def _click(harness: Harness, units: int, track: dict[str, str] | None = None) -> None:
    track = track or await harness.api_key(["track"])
    sent = await post_batch(harness, track, [{"name": "click", "user_id": f"s{i}"} for i in range(units)])
    assert sent.status_code == 202, sent.text


async def _clicks_counted(harness: Harness) -> float:
    async with harness.runtime.db.transaction() as session:
        stats = await load_snapshot(session, "settle")
    assert stats is not None
    return sum(v.sum for v in stats.metrics["clicks"].values())


async def test_aggregate_now__counts_the_events_accepted_just_before(harness: Harness) -> None:
    """The walk that found it: exposures and clicks sent, accepted (202), then at once "aggregate
    now": 5,503 of 9,003 units counted, and nothing said that the rest were still queued."""
    admin = await _experiment(harness)
    await _assign(harness, 400)
    await _click(harness, 400)
    done = await harness.client.post("/api/v1/experiments/settle/aggregate", headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["data"]["events_waiting"] == 0
    results = await harness.client.get("/api/v1/experiments/settle/results", headers=admin)
    assert sum(results.json()["data"]["units"].values()) == 400
    assert await _clicks_counted(harness) == 400
    records = await harness.audit(action="experiment.aggregated")
    assert records[0]["after"]["events_waiting"] == 0


async def test_aggregate_now__writer_held__waits_for_it(harness: Harness) -> None:
    """Deterministic: the writers are held while the clicks arrive (PostgreSQL: their lock taken
    elsewhere; SQLite: its write lock); "aggregate now" waits, and counts them once they go on."""
    admin = await _experiment(harness)
    await _assign(harness, 50)
    await flush(harness)
    track = await harness.api_key(["track"])
    async with harness.runtime.db.sessions() as holder:
        if harness.runtime.redis is not None:
            await repository.lock_writers(holder)
        else:
            await holder.execute(text(repository.SQLITE_WRITE_LOCK))
        await _click(harness, 50, track)
        aggregating = asyncio.create_task(
            harness.client.post("/api/v1/experiments/settle/aggregate", headers=admin)
        )
        await asyncio.sleep(0.3)
        assert not aggregating.done()  # waiting for the held writer
        await holder.rollback()
    done = await asyncio.wait_for(aggregating, 15)
    assert done.status_code == 200, done.text
    assert done.json()["data"]["events_waiting"] == 0
    assert await _clicks_counted(harness) == 50
