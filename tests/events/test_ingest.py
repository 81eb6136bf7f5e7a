"""Ingestion over HTTP: per-event validation, partial batches, idempotency, backpressure, the live
view, and the embedded drain on shutdown."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from experimently.events.models import Event
from experimently.events.pipeline import EmbeddedPipeline
from experimently.events.validation import Rejected, _properties
from tests.conftest import FakeClock, Harness, start_harness
from tests.events.helpers import flush, post_batch, stored


def ev(i: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e{i}", "name": "conversion", "user_id": f"u{i % 7}", **extra}


async def test_batch__bad_events__rejected_by_index_good_neighbours_kept(
    harness: Harness, fake_clock: FakeClock
) -> None:
    key = await harness.api_key(["track"])
    future = (fake_clock.moment + timedelta(days=2)).isoformat()
    ancient = (fake_clock.moment - timedelta(days=400)).isoformat()
    events = [
        ev(0, value=9.5, properties={"plan": "pro"}),
        {"event_id": "e1", "user_id": "u1"},  # no name
        ev(2, value="ten"),
        ev(3, timestamp=future),
        ev(4, timestamp=ancient),
        ev(5, properties={"blob": "x" * 10_000}),
        ev(6, surprise=True),
        "not an object",
        ev(8, timestamp=(fake_clock.moment - timedelta(hours=1)).isoformat()),
        ev(9, value=float("inf")) | {"value": None},
    ]
    response = await post_batch(harness, key, events)
    assert response.status_code == 202, response.text
    body = response.json()["data"]
    assert body["accepted"] == 3
    assert [(r["index"], r["path"]) for r in body["rejected"]] == [
        (1, "name"),
        (2, "value"),
        (3, "timestamp"),
        (4, "timestamp"),
        (5, "properties"),
        (6, "surprise"),
        (7, ""),
    ]
    await flush(harness)
    assert await stored(harness) == ["e0", "e8", "e9"]


async def test_single__invalid__422_with_path__valid_202_with_generated_id(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    bad = await harness.client.post("/api/v1/events", json={"name": "x"}, headers=key)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"][0]["path"] == "user_id"
    junk = await harness.client.post("/api/v1/events", content=b"{nope", headers=key)
    assert junk.status_code == 422
    good = await harness.client.post("/api/v1/events", json={"name": "signup", "user_id": "u1"}, headers=key)
    assert good.status_code == 202
    generated = good.json()["data"]["event_ids"][0]
    await flush(harness)
    assert await stored(harness) == [generated]


async def test_batch__bounds_and_permissions(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    too_many = await post_batch(harness, key, [ev(i) for i in range(1001)])
    assert too_many.status_code == 422
    empty = await post_batch(harness, key, [])
    assert empty.status_code == 422
    evaluate_only = await harness.api_key(["evaluate"])
    assert (await post_batch(harness, evaluate_only, [ev(1)])).status_code == 403
    assert (await harness.client.post("/api/v1/events/batch", json={"events": [ev(1)]})).status_code == 401
    admin_bearer = await harness.client.post(
        "/api/v1/events/batch", json={"events": [ev(1)]}, headers=await harness.admin()
    )
    assert admin_bearer.status_code == 403  # tracking needs a key, which fixes the environment


async def test_batch__nul_and_lone_surrogate__rejected_not_stuck(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    raw = (
        '{"events": [{"name": "purchase", "user_id": "ok"}, {"name": "pur\\u0000chase", "user_id": "u"}, '
        '{"name": "purchase", "user_id": "u", "properties": {"k": "\\ud800"}}]}'
    )
    response = await harness.client.post(
        "/api/v1/events/batch", content=raw, headers={**key, "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
    body = response.json()["data"]
    assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1, 2]
    await flush(harness)
    assert len(await stored(harness)) == 1


async def test_batch__sent_twice__stored_once(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    batch = [ev(i) for i in range(50)] + [ev(3)]  # a duplicate inside the batch too
    for _ in range(2):
        assert (await post_batch(harness, key, batch)).status_code == 202
    await flush(harness)
    await post_batch(harness, key, batch[:10])
    await flush(harness)
    ids = await stored(harness)
    assert len(ids) == 50 and len(set(ids)) == 50


async def test_events__carry_environment_of_key_and_list_newest_first(harness: Harness) -> None:
    key = await harness.api_key(["track"], environment="staging")
    await post_batch(harness, key, [ev(i, experiment_key="exp-a" if i % 2 else None) for i in range(6)])
    await flush(harness)
    response = await harness.client.get(
        "/api/v1/events", params={"experiment_key": "exp-a", "limit": 2}, headers=await harness.admin()
    )
    assert response.status_code == 200
    rows = response.json()["data"]
    assert len(rows) == 2 and rows[0]["seq"] > rows[1]["seq"]
    assert {r["environment"] for r in rows} == {"staging"}
    by_user = await harness.client.get(
        "/api/v1/events", params={"user_id": "u1"}, headers=await harness.admin()
    )
    assert [r["event_id"] for r in by_user.json()["data"]] == ["e1"]
    tracker = await harness.client.get("/api/v1/events", headers=key)
    assert tracker.status_code == 403


async def test_embedded__shutdown__drains_queue(tmp_path: Path, migrated_sqlite: Path) -> None:
    import shutil

    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    async with start_harness("sqlite", tmp_path) as h:
        key = await h.api_key(["track"])
        for start in range(0, 3000, 1000):
            response = await post_batch(h, key, [ev(i) for i in range(start, start + 1000)])
            assert response.status_code == 202
        assert isinstance(h.runtime.pipeline, EmbeddedPipeline) and h.runtime.pipeline.pending > 0
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'experimently.db'}")
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Event)) == 3000
    await engine.dispose()


async def test_deep_nesting__refused_with_its_path__never_500(harness: Harness) -> None:
    """Properties nested as deep as the parser takes are kept; deeper than the encoder checks, the event
    is rejected at ``properties``; a body nested past what the parser takes is a 422, never a 500."""
    key = await harness.api_key(["track"])
    headers = {**key, "Content-Type": "application/json"}
    deep = '{"a":' * 900 + "1" + "}" * 900
    event = f'{{"name": "n", "user_id": "u", "properties": {deep}}}'
    raw = f'{{"events": [{{"name": "ok", "user_id": "u"}}, {event}]}}'
    response = await harness.client.post("/api/v1/events/batch", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["data"] == {"accepted": 2, "rejected": []}
    await flush(harness)
    assert len(await stored(harness)) == 2  # and written: the database takes that depth too
    deeper: dict[str, Any] = {"a": 1}
    for _ in range(5000):  # built without recursion: deeper than any encoder's check
        deeper = {"a": deeper}
    with pytest.raises(Rejected, match="nested"):
        _properties(deeper, 8192)
    deepest = '{"a":' * 5000 + "1" + "}" * 5000
    for path, raw in [
        ("/api/v1/events", f'{{"name": "n", "user_id": "u", "properties": {deepest}}}'),
        ("/api/v1/events/batch", f'{{"events": [{{"name": "n", "user_id": "u", "properties": {deepest}}}]}}'),
    ]:
        response = await harness.client.post(path, content=raw, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert "nested" in response.json()["error"]["details"]["errors"][0]["message"]


async def test_batch__shape__unknown_fields_and_a_non_list_refused(harness: Harness) -> None:
    key = await harness.api_key(["track"])
    headers = {**key, "Content-Type": "application/json"}
    extra = await harness.client.post(
        "/api/v1/events/batch", json={"events": [ev(1)], "sent_at": "now"}, headers=headers
    )
    assert extra.status_code == 422, extra.text
    assert extra.json()["error"]["details"]["errors"] == [{"path": "sent_at", "message": "unknown field"}]
    not_a_list = await harness.client.post("/api/v1/events/batch", json={"events": {}}, headers=headers)
    assert not_a_list.status_code == 422
    assert not_a_list.json()["error"]["details"]["errors"] == [
        {"path": "events", "message": "must be a list"}
    ]
    missing = await harness.client.post("/api/v1/events/batch", json={}, headers=headers)
    assert missing.json()["error"]["details"]["errors"] == [{"path": "events", "message": "required"}]
    array = await harness.client.post("/api/v1/events/batch", json=[ev(1)], headers=headers)
    assert array.status_code == 422
    assert array.json()["error"]["details"]["errors"] == [{"path": "body", "message": "must be an object"}]
