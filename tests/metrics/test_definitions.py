"""Metric definitions over HTTP: CRUD, versions, save-time refusal of conditions SQL cannot
evaluate (exact paths), ownership, audit, and the daily series with conditions applied in SQL."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import FakeClock, Harness
from tests.events.helpers import flush, post_batch

METRICS = "/api/v1/metrics"


async def test_crud__versioned_and_audited(harness: Harness) -> None:
    admin = await harness.admin()
    body = {"key": "signup", "name": "Signup", "kind": "binomial", "event_name": "signup"}
    created = await harness.client.post(METRICS, json=body, headers=admin)
    assert created.status_code == 201 and created.json()["data"]["version"] == 1
    assert (await harness.client.post(METRICS, json=body, headers=admin)).status_code == 409
    changed = await harness.client.patch(
        f"{METRICS}/signup", json={"version": 1, "direction": "lower"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["data"]["direction"] == "lower"
    stale = await harness.client.patch(f"{METRICS}/signup", json={"version": 1, "name": "x"}, headers=admin)
    assert stale.status_code == 409
    assert (await harness.client.delete(f"{METRICS}/signup", headers=admin)).status_code == 200
    assert (await harness.client.get(f"{METRICS}/signup", headers=admin)).status_code == 404
    actions = [r["action"] for r in await harness.audit(resource_type="metric")]
    assert sorted(actions) == ["metric.created", "metric.deleted", "metric.updated"]


async def test_create__unsupported_conditions_and_ratio__422_with_paths(harness: Harness) -> None:
    admin = await harness.admin()
    bad = {
        "key": "m",
        "name": "m",
        "kind": "count",
        "event_name": "e",
        "conditions": [
            {"attribute": "plan", "operator": "eq", "values": ["pro"]},
            {"attribute": "url", "operator": "matches", "values": ["^/a"]},
            {"attribute": "plan", "operator": "eq", "values": ["x"], "case_insensitive": True},
            {"attribute": "plan", "operator": "bogus", "values": ["x"]},
        ],
    }
    response = await harness.client.post(METRICS, json=bad, headers=admin)
    assert response.status_code == 422
    paths = [e["path"] for e in response.json()["error"]["details"]["errors"]]
    assert "conditions[3].operator" in paths
    bad["conditions"] = bad["conditions"][:3]
    paths = [
        e["path"]
        for e in (await harness.client.post(METRICS, json=bad, headers=admin)).json()["error"]["details"][
            "errors"
        ]
    ]
    assert paths == ["conditions[1].operator", "conditions[2].case_insensitive"]
    ratio = {"key": "r", "name": "r", "kind": "ratio", "event_name": "e"}
    no_denominator = await harness.client.post(METRICS, json=ratio, headers=admin)
    assert no_denominator.status_code == 422
    [error] = no_denominator.json()["error"]["details"]["errors"]
    assert error["path"] == "denominator_event" and "required for ratio" in error["message"]  # not "body"


async def test_ownership__analyst_owns_own_metrics_only(harness: Harness) -> None:
    admin = await harness.admin()
    analyst, _ = await harness.user("analyst")
    await harness.client.post(
        METRICS, json={"key": "a", "name": "a", "kind": "count", "event_name": "e"}, headers=admin
    )
    mine = await harness.client.post(
        METRICS, json={"key": "b", "name": "b", "kind": "count", "event_name": "e"}, headers=analyst
    )
    assert mine.status_code == 201
    assert (
        await harness.client.patch(f"{METRICS}/a", json={"version": 1, "name": "z"}, headers=analyst)
    ).status_code == 403
    assert (
        await harness.client.patch(f"{METRICS}/b", json={"version": 1, "name": "z"}, headers=analyst)
    ).status_code == 200
    viewer, _ = await harness.user("viewer")
    assert (await harness.client.get(METRICS, headers=viewer)).status_code == 200
    assert (
        await harness.client.post(
            METRICS, json={"key": "c", "name": "c", "kind": "count", "event_name": "e"}, headers=viewer
        )
    ).status_code == 403


async def test_series__daily_with_conditions_and_absent_semantics(
    harness: Harness, fake_clock: FakeClock
) -> None:
    admin = await harness.admin()
    metric = {
        "key": "pro_buys",
        "name": "Pro purchases",
        "kind": "sum",
        "event_name": "buy",
        "conditions": [
            {"attribute": "plan", "operator": "neq", "values": ["free"]},
            {"attribute": "amount", "operator": "gte", "values": [10]},
        ],
    }
    assert (await harness.client.post(METRICS, json=metric, headers=admin)).status_code == 201
    yesterday = (fake_clock.moment - timedelta(days=1)).isoformat()
    events = [
        {"name": "buy", "user_id": "u1", "value": 5, "properties": {"plan": "pro", "amount": 10}},
        {
            "name": "buy",
            "user_id": "u2",
            "value": 7,
            "properties": {"plan": "pro", "amount": 12.5},
            "timestamp": yesterday,
        },
        {"name": "buy", "user_id": "u1", "value": 100, "properties": {"plan": "free", "amount": 50}},
        {
            "name": "buy",
            "user_id": "u3",
            "value": 100,
            "properties": {"amount": 50},
        },  # plan absent: neq false
        {
            "name": "buy",
            "user_id": "u4",
            "value": 100,
            "properties": {"plan": "pro", "amount": "50"},
        },  # string
        {"name": "buy", "user_id": "u5", "value": 100, "properties": {"plan": "pro", "amount": 9}},
        {"name": "view", "user_id": "u1", "properties": {"plan": "pro", "amount": 50}},
    ]
    await post_batch(harness, await harness.api_key(["track"]), events)
    await flush(harness)
    response = await harness.client.get(f"{METRICS}/pro_buys/series", params={"days": 7}, headers=admin)
    assert response.status_code == 200
    points = response.json()["data"]
    assert [(p["events"], p["units"], p["value_sum"]) for p in points] == [(1, 1, 7.0), (1, 1, 5.0)]
    assert points[1]["day"] == fake_clock.moment.date().isoformat()
