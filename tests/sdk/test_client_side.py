"""Client-side keys: POST /sdk/evaluate gives the values of client-visible flags only, never a rule;
the key can do nothing else; visibility is a versioned, audited change; CORS and the rate limit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness

ORIGIN = "https://app.example"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sdk_client_origins": f"{ORIGIN}, https://other.example", "sdk_client_rate_limit": "5/minute"}


async def _flag(h: Harness, key: str, rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    admin = await h.admin()
    body = {"key": key, "name": key, "type": "boolean"}
    response = await h.client.post("/api/v1/feature-flags", json=body, headers=admin)
    assert response.status_code == 201, response.text
    flag = response.json()["data"]
    config = {
        "enabled": True,
        "rules": rules or [],
        "fallthrough": {"variation": "off"},
        "version": flag["version"],
    }
    response = await h.client.put(
        f"/api/v1/feature-flags/{key}/environments/production", json=config, headers=admin
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def _key(h: Harness, *scopes: str) -> dict[str, str]:
    body = {"name": "web", "environment": "production", "scopes": list(scopes)}
    response = await h.client.post("/api/v1/api-keys", json=body, headers=await h.admin())
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["data"]["key"]}


async def _visible(h: Harness, flag: dict[str, Any], visible: bool = True) -> dict[str, Any]:
    response = await h.client.put(
        f"/api/v1/feature-flags/{flag['key']}/client-visible",
        json={"client_visible": visible, "version": flag["version"]},
        headers=await h.admin(),
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def test_client_key__gets_values_of_visible_flags_only__never_rules(harness: Harness) -> None:
    h = harness
    rule = {
        "id": "de",
        "conditions": [{"attribute": "country", "operator": "eq", "values": ["DE"]}],
        "serve": {"variation": "on"},
    }
    shown = await _flag(h, "shown", [rule])
    await _flag(h, "hidden", [rule])
    assert shown.get("client_visible") is False  # default off
    shown = await _visible(h, shown)
    assert shown["client_visible"] is True
    key = await _key(h, "client")

    response = await h.client.post(
        "/api/v1/sdk/evaluate", json={"user_id": "u1", "context": {"country": "DE"}}, headers=key
    )
    assert response.status_code == 200, response.text
    flags = response.json()["data"]["flags"]
    assert set(flags) == {"shown"}
    assert flags["shown"]["value"] is True and flags["shown"]["reason"] == "TARGETING_MATCH"
    assert "country" not in response.text and "rule" not in response.text and "bucket" not in response.text
    other = await h.client.post("/api/v1/sdk/evaluate", json={"user_id": "u1"}, headers=key)
    assert other.json()["data"]["flags"]["shown"]["value"] is False

    # the audit trail records the change
    records = [r for r in await h.audit() if r["action"] == "flag.client_visibility_changed"]
    assert len(records) == 1 and records[0]["resource_id"] == "shown"


async def test_client_key__cannot_read_rules_manage_or_track_without_scope(harness: Harness) -> None:
    h = harness
    await _flag(h, "f")
    key = await _key(h, "client")
    assert (await h.client.get("/api/v1/sdk/flags", headers=key)).status_code == 403
    assert (await h.client.get("/api/v1/sdk/stream", headers=key)).status_code == 403
    assert (await h.client.get("/api/v1/feature-flags", headers=key)).status_code == 403
    evaluate = await h.client.post(
        "/api/v1/feature-flags/f/evaluate", json={"user_id": "u1", "context": {}}, headers=key
    )
    assert evaluate.status_code == 403
    # a server key cannot use the client endpoint, and client keys cannot carry server scopes
    server_key = await _key(h, "evaluate")
    assert (await h.client.post("/api/v1/sdk/evaluate", json={}, headers=server_key)).status_code == 403
    body = {"name": "x", "environment": "production", "scopes": ["client", "evaluate"]}
    refused = await h.client.post("/api/v1/api-keys", json=body, headers=await h.admin())
    assert refused.status_code == 422


async def test_cors_for_configured_origins__and_rate_limit(harness: Harness) -> None:
    h = harness
    await _visible(h, await _flag(h, "f"))
    key = await _key(h, "client")
    preflight = await h.client.options("/api/v1/sdk/evaluate", headers={"Origin": ORIGIN})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "X-API-Key" in preflight.headers["access-control-allow-headers"]
    stranger = await h.client.options("/api/v1/sdk/evaluate", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    answers = [
        await h.client.post("/api/v1/sdk/evaluate", json={"user_id": "u"}, headers={**key, "Origin": ORIGIN})
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["access-control-allow-origin"] == ORIGIN
    assert int(answers[5].headers["retry-after"]) >= 1
    assert answers[5].headers["access-control-allow-origin"] == ORIGIN  # the browser can read the 429
    events = await h.client.options("/api/v1/events/batch", headers={"Origin": ORIGIN})
    assert events.status_code == 204 and events.headers["access-control-allow-origin"] == ORIGIN
