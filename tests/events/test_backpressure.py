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
    refused = await post_batch(harness, key, [ev(i) for i in range(11)])
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    accepted: list[str] = []
    for start in range(0, 40, 5):
        response = await post_batch(harness, key, [ev(i) for i in range(start, start + 5)])
        if response.status_code == 202:
            accepted += [f"e{i}" for i in range(start, start + 5)]
        else:
            assert response.status_code == 503
    await flush(harness)
    assert await stored(harness) == sorted(accepted)
