"""Backpressure: a full queue answers 503 with Retry-After, and nothing accepted is ever dropped."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.events.helpers import flush, post_batch, stored


def ev(i: int) -> dict[str, Any]:
    return {"event_id": f"e{i}", "name": "conversion", "user_id": f"u{i % 7}"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"event_queue_max": 10}


async def test_queue_full__503_retry_after__accepted_events_all_stored(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    accepted: list[str] = []
    full = []
    for start in range(0, 40, 5):
        response = await post_batch(harness, key, [ev(i) for i in range(start, start + 5)])
        if response.status_code == 202:
            accepted += [f"e{i}" for i in range(start, start + 5)]
        else:
            assert response.status_code == 503
            full.append(response)
    await flush(harness)
    assert await stored(harness) == sorted(accepted)
    for refused in full:
        assert refused.headers["Retry-After"] == "1"
        error = refused.json()["error"]
        assert error["code"] == "SERVICE_UNAVAILABLE" and error["details"] == {"retry_after_seconds": 1}


async def test_batch_larger_than_the_queue__413_says_so__never_a_503_to_retry(harness: Harness) -> None:
    # a 503 would be retried for ever: this batch can never fit, whatever the queue holds
    key = await harness.api_key(["track"])
    refused = await post_batch(harness, key, [ev(i) for i in range(11)])
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and "Retry-After" not in refused.headers
    assert "a batch of 11 events is larger than the event queue holds (10" in error["message"]
    assert error["details"] == {"events": 11, "event_queue_max": 10}
    assert (await post_batch(harness, key, [ev(i) for i in range(10)])).status_code == 202
