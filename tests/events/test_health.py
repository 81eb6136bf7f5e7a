"""Issue #14: ingestion health for the console's events page: accepted per second, queue depth and
the age of its oldest event, rejections grouped by reason."""

from __future__ import annotations

from typing import Any

from experimently.events.health import IngestHealth
from tests.conftest import Harness
from tests.events.helpers import flush, post_batch

HEALTH = "/api/v1/events/health"


async def test_health__accepted_rejected_by_reason_and_queue(harness: Harness) -> None:
    track = await harness.api_key(["track"])
    good = [{"name": "signup", "user_id": f"u{i}"} for i in range(30)]
    bad: list[Any] = [{"user_id": "x"}, {"user_id": "y"}, {"name": "n", "user_id": "z", "value": "ten"}]
    response = await post_batch(harness, track, good + bad)
    assert response.status_code == 202 and response.json()["data"]["accepted"] == 30
    viewer, _ = await harness.user("viewer")
    health = await harness.client.get(HEALTH, headers=viewer)
    assert health.status_code == 200, health.text
    data = health.json()["data"]
    assert data["accepted_last_hour"] == 30 and data["window_seconds"] == 60
    assert data["accepted_per_second"] == 30 / 60
    reasons = {r["reason"]: r["count"] for r in data["rejected_last_hour"]}
    assert sum(reasons.values()) == 3
    assert max(reasons.items(), key=lambda kv: kv[1])[0].startswith("name: ")  # 2 without a name
    assert data["rejected_last_hour"][0]["count"] == 2  # most frequent first
    assert data["queue_depth"] >= 0
    await flush(harness)
    drained = (await harness.client.get(HEALTH, headers=viewer)).json()["data"]
    assert drained["queue_depth"] == 0 and drained["oldest_queued_seconds"] is None
    assert (await harness.client.get(HEALTH)).status_code == 401
    assert (await harness.client.get(HEALTH, headers=track)).status_code == 403


async def test_health__queue_depth_and_oldest_while_the_writer_is_stopped(harness: Harness) -> None:
    await harness.runtime.pipeline.stop()  # nothing drains the queue now
    try:
        track = await harness.api_key(["track"])
        sent = await post_batch(harness, track, [{"name": "a", "user_id": f"u{i}"} for i in range(5)])
        if sent.status_code != 202:  # a stopped embedded queue refuses: counted as a rejection
            data = (await harness.client.get(HEALTH, headers=await harness.admin())).json()["data"]
            assert any("queue" in r["reason"] for r in data["rejected_last_hour"])
            return
        data = (await harness.client.get(HEALTH, headers=await harness.admin())).json()["data"]
        assert data["queue_depth"] == 5
        assert data["oldest_queued_seconds"] is not None and 0 <= data["oldest_queued_seconds"] < 60
    finally:
        await harness.runtime.pipeline.start()
        await flush(harness)


def test_health_windows__old_counts_leave_the_windows() -> None:
    moment = [1_000_000.0]
    health = IngestHealth(clock=lambda: moment[0])
    health.accepted(120)
    health.rejected("name: required", 3)
    assert health.snapshot()["accepted_per_second"] == 2.0
    moment[0] += 61  # out of the per-second window, still in the hour
    snap = health.snapshot()
    assert snap["accepted_per_second"] == 0.0 and snap["accepted_last_hour"] == 120
    assert snap["rejected_last_hour"] == [{"reason": "name: required", "count": 3}]
    moment[0] += 3600
    snap = health.snapshot()
    assert snap["accepted_last_hour"] == 0 and snap["rejected_last_hour"] == []
