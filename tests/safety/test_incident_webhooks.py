"""Incident access (the kill switch for any developer, with a reason; ownership transfer), every change
announced to webhooks with the actor, the diff and a console link, and the safety settings API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from experimently.webhooks.models import DomainEvent
from experimently.webhooks.outbox import EVENT_TYPES
from tests.conftest import Harness

FLAGS = "/api/v1/feature-flags"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True, "public_url": "https://exp.example.com/"}


async def events(h: Harness) -> dict[str, list[dict[str, Any]]]:
    async with h.runtime.db.sessions() as session:
        rows = (await session.scalars(select(DomainEvent).order_by(DomainEvent.id))).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.type, []).append(row.payload)
    return out


async def test_kill_switch__any_developer__reason_required__enable_stays_with_owner(harness: Harness) -> None:
    # Given a flag owned by the admin and a developer who does not own it
    admin = await harness.admin()
    assert (
        await harness.client.post(FLAGS, json={"key": "pay", "name": "Pay"}, headers=admin)
    ).status_code == 201
    dev, dev_id = await harness.user("developer", "dev@example.com")
    viewer, _ = await harness.user("viewer", "viewer@example.com")
    kill = f"{FLAGS}/pay/environments/production/kill"
    enable = f"{FLAGS}/pay/environments/production/enable"
    assert (await harness.client.post(enable, json={}, headers=admin)).status_code == 200

    # When the developer kills it without a reason: refused; with one: done, audited, announced
    missing = await harness.client.post(kill, json={}, headers=dev)
    assert missing.status_code == 422 and missing.json()["error"]["details"]["errors"][0]["path"] == "reason"
    killed = await harness.client.post(kill, json={"reason": "INC-7: checkout errors"}, headers=dev)
    assert killed.status_code == 200, killed.text
    assert killed.json()["data"]["environments"]["production"]["enabled"] is False
    [record] = await harness.audit(action="flag.killed")
    assert record["actor_id"] == dev_id and record["reason"] == "INC-7: checkout errors"
    [announced] = (await events(harness))["flag.killed"]
    assert announced["actor"]["id"] == dev_id and announced["reason"] == "INC-7: checkout errors"
    assert announced["diff"]["environments"]["after"]["production"]["enabled"] is False

    # Then enabling or editing stays with the owner; a viewer may not kill
    assert (await harness.client.post(enable, json={}, headers=dev)).status_code == 403
    edit = await harness.client.patch(f"{FLAGS}/pay", json={"version": 3, "name": "x"}, headers=dev)
    assert edit.status_code == 403
    assert (await harness.client.post(kill, json={"reason": "x"}, headers=viewer)).status_code == 403


async def test_ownership__transferred_by_owner_or_admin__audited(harness: Harness) -> None:
    dev, dev_id = await harness.user("developer", "owner@example.com")
    other, other_id = await harness.user("developer", "other@example.com")
    assert (
        await harness.client.post(FLAGS, json={"key": "pay", "name": "Pay"}, headers=dev)
    ).status_code == 201
    # not the owner: refused
    stolen = await harness.client.post(f"{FLAGS}/pay/owner", json={"owner_id": other_id}, headers=other)
    assert stolen.status_code == 403
    unknown = await harness.client.post(f"{FLAGS}/pay/owner", json={"owner_id": "nobody"}, headers=dev)
    assert unknown.status_code == 422
    # the owner hands it over; the new owner may now edit it, the old one no more
    given = await harness.client.post(f"{FLAGS}/pay/owner", json={"owner_id": other_id}, headers=dev)
    assert given.status_code == 200 and given.json()["data"]["owner_id"] == other_id
    version = given.json()["data"]["version"]
    assert (
        await harness.client.patch(f"{FLAGS}/pay", json={"version": version, "name": "P"}, headers=other)
    ).status_code == 200
    assert (
        await harness.client.patch(f"{FLAGS}/pay", json={"version": version + 1, "name": "Q"}, headers=dev)
    ).status_code == 403
    [record] = await harness.audit(action="flag.owner_changed")
    assert record["diff"]["owner_id"] == {"before": dev_id, "after": other_id}
    # an admin may move it too
    back = await harness.client.post(
        f"{FLAGS}/pay/owner", json={"owner_id": dev_id}, headers=await harness.admin()
    )
    assert back.status_code == 200
    assert [e["diff"]["owner_id"]["after"] for e in (await events(harness))["flag.owner_changed"]] == [
        other_id,
        dev_id,
    ]


async def test_every_change__announced_with_actor_diff_and_link(harness: Harness) -> None:
    # Given a subscription to every event type
    receiver: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        receiver.append(request)
        return httpx.Response(200)

    harness.runtime.webhook_transport = httpx.MockTransport(receive)
    admin = await harness.admin()
    hook = {"url": "https://hooks.example.com/all"}
    assert (await harness.client.post("/api/v1/webhooks", json=hook, headers=admin)).status_code == 201

    # When every kind of change is made
    c = harness.client
    assert (await c.post(FLAGS, json={"key": "f", "name": "F"}, headers=admin)).status_code == 201
    assert (await c.patch(f"{FLAGS}/f", json={"version": 1, "name": "F2"}, headers=admin)).status_code == 200
    env = f"{FLAGS}/f/environments/production"
    assert (await c.post(f"{env}/enable", json={}, headers=admin)).status_code == 200
    assert (await c.post(f"{env}/kill", json={"reason": "r"}, headers=admin)).status_code == 200
    metric = {"key": "errors", "name": "E", "kind": "count", "event_name": "error", "direction": "lower"}
    assert (await c.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    settings = {"guardrail_metrics": ["errors"], "alpha": 0.01}
    assert (
        await c.put("/api/v1/environments/production/safety-settings", json=settings, headers=admin)
    ).status_code == 200
    # enabled, a new flag serves "on" to everyone: the rollout takes it to "off"
    body = {"environment": "production", "variation": "off", "percentage": 10}
    refused = await c.post(f"{FLAGS}/f/guarded-rollouts", json=body, headers=admin)
    assert refused.status_code == 422  # killed: nothing to roll out
    assert (await c.post(f"{env}/enable", json={}, headers=admin)).status_code == 200
    started = await c.post(f"{FLAGS}/f/guarded-rollouts", json=body, headers=admin)
    assert started.status_code == 201, started.text
    assert (
        started.json()["data"]["guardrail_metrics"] == ["errors"] and started.json()["data"]["alpha"] == 0.01
    )
    rid = started.json()["data"]["id"]
    assert (await c.post(f"{FLAGS}/f/guarded-rollouts/{rid}/cancel", headers=admin)).status_code == 200
    again = await c.post(f"{FLAGS}/f/guarded-rollouts", json=body, headers=admin)
    assert again.status_code == 201
    done = await c.post(
        f"{FLAGS}/f/guarded-rollouts/{again.json()['data']['id']}/advance",
        json={"percentage": 100},
        headers=admin,
    )
    assert done.json()["data"]["status"] == "released"
    _, user_id = await harness.user("viewer", "v@example.com")
    assert (
        await c.patch(f"/api/v1/users/{user_id}", json={"role": "analyst"}, headers=admin)
    ).status_code == 200
    assert (
        await c.patch(f"/api/v1/users/{user_id}", json={"is_active": False}, headers=admin)
    ).status_code == 200
    assert (await c.post(FLAGS + "/f/owner", json={"owner_id": user_id}, headers=admin)).status_code == 422
    key = await c.post(
        "/api/v1/api-keys",
        json={"name": "k", "environment": "production", "scopes": ["track"]},
        headers=admin,
    )
    assert (
        await c.post(f"/api/v1/api-keys/{key.json()['data']['id']}/revoke", headers=admin)
    ).status_code == 200
    segment = {"key": "beta", "name": "Beta", "conditions": []}
    assert (await c.post("/api/v1/segments", json=segment, headers=admin)).status_code == 201
    assert (
        await c.patch("/api/v1/segments/beta", json={"version": 1, "name": "B"}, headers=admin)
    ).status_code == 200
    assert (await c.delete("/api/v1/segments/beta", headers=admin)).status_code == 204
    assert (await c.delete(f"{FLAGS}/f", headers=admin)).status_code == 200

    # Then each new type was emitted with the actor, a diff and a console path
    found = await events(harness)
    expected = {
        "flag.created": "/flags/f",
        "flag.updated": "/flags/f",
        "flag.enabled": "/flags/f",
        "flag.killed": "/flags/f",
        "flag.archived": "/flags/f",
        "flag.rollout_started": "/flags/f",
        "flag.rollout_step_applied": "/flags/f",
        "flag.rollout_cancelled": "/flags/f",
        "flag.rollout_released": "/flags/f",
        "safety.settings_updated": "/admin/environments",
        "user.created": "/admin/people",
        "user.role_changed": "/admin/people",
        "user.deactivated": "/admin/people",
        "api_key.created": "/admin/keys",
        "api_key.revoked": "/admin/keys",
        "segment.created": "/segments/beta",
        "segment.updated": "/segments/beta",
        "segment.deleted": "/segments",
    }
    for type_, path in expected.items():
        assert type_ in EVENT_TYPES
        payload = found[type_][-1]
        assert payload["console_path"] == path, type_
        assert payload["actor"]["label"] == "admin@example.com" or type_ == "flag.rollout_released", type_
        assert payload["diff"], type_
    assert found["user.role_changed"][0]["diff"]["role"] == {"before": "viewer", "after": "analyst"}

    # and delivered with an absolute link to the console
    assert await harness.runtime.jobs.run("webhooks.deliver")
    bodies = [json.loads(r.content) for r in receiver]
    killed = next(b for b in bodies if b["type"] == "flag.killed")
    assert killed["data"]["console_url"] == "https://exp.example.com/flags/f"
    assert {b["type"] for b in bodies} >= set(expected)


async def test_safety_settings__environment_and_flag_override__versioned_audited(harness: Harness) -> None:
    admin = await harness.admin()
    dev, _ = await harness.user("developer", "dev@example.com")
    metric = {"key": "errors", "name": "E", "kind": "count", "event_name": "error", "direction": "lower"}
    assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    url = "/api/v1/environments/production/safety-settings"
    empty = await harness.client.get(url, headers=dev)
    assert empty.status_code == 200 and empty.json()["data"]["version"] == 0
    # only admins set an environment's defaults; unknown metrics are refused
    assert (
        await harness.client.put(url, json={"guardrail_metrics": ["errors"]}, headers=dev)
    ).status_code == 403
    bad = await harness.client.put(url, json={"guardrail_metrics": ["nope"]}, headers=admin)
    assert bad.status_code == 422
    first = await harness.client.put(
        url, json={"guardrail_metrics": ["errors"], "action": "pause"}, headers=admin
    )
    assert first.status_code == 200 and first.json()["data"]["version"] == 1
    stale = await harness.client.put(url, json={"version": 5, "alpha": 0.01}, headers=admin)
    assert stale.status_code == 409
    # a flag's owner overrides them for the flag
    assert (await harness.client.post(FLAGS, json={"key": "f", "name": "F"}, headers=dev)).status_code == 201
    enable = f"{FLAGS}/f/environments/production/enable"
    assert (await harness.client.post(enable, json={}, headers=dev)).status_code == 200
    flag_url = f"{FLAGS}/f/environments/production/safety-settings"
    override = await harness.client.put(flag_url, json={"min_units": 500, "action": "notify"}, headers=dev)
    assert override.status_code == 200 and override.json()["data"]["flag_key"] == "f"
    body = {"environment": "production", "variation": "off", "percentage": 5}  # it serves "on"
    started = (await harness.client.post(f"{FLAGS}/f/guarded-rollouts", json=body, headers=dev)).json()[
        "data"
    ]
    assert (started["guardrail_metrics"], started["min_units"], started["action"]) == (
        ["errors"],
        500,
        "notify",
    )
    assert len(await harness.audit(action="safety.settings_updated")) == 2


SETTINGS_URLS = (
    "/api/v1/environments/production/safety-settings",
    f"{FLAGS}/f/environments/production/safety-settings",
)


async def settings_world(h: Harness) -> dict[str, str]:
    """Two metrics and a flag ``f``; returns the admin's headers."""
    admin = await h.admin()
    for key in ("errors", "latency"):
        metric = {"key": key, "name": key, "kind": "count", "event_name": key, "direction": "lower"}
        assert (await h.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    assert (await h.client.post(FLAGS, json={"key": "f", "name": "F"}, headers=admin)).status_code == 201
    return admin


@pytest.mark.parametrize("url", SETTINGS_URLS)
async def test_safety_settings__numbers_beyond_their_bounds__422_not_500(harness: Harness, url: str) -> None:
    admin = await settings_world(harness)
    # a minimum no rollout reaches (or no column holds) is refused at its path
    for body in (
        {"min_units": 10**23},
        {"min_units": 2**63 - 1},
        {"min_units": 1_000_000_001},
        {"max_wait_seconds": 10**23},
    ):
        refused = await harness.client.put(url, json=body, headers=admin)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["details"]["errors"][0]["path"] == next(iter(body)), body
    assert len(await harness.audit(action="safety.settings_updated")) == 0
    # the largest minimum is kept as sent
    ok = await harness.client.put(url, json={"min_units": 1_000_000_000}, headers=admin)
    assert ok.status_code == 200 and ok.json()["data"]["min_units"] == 1_000_000_000


@pytest.mark.parametrize("url", SETTINGS_URLS)
async def test_safety_settings__metric_named_twice_or_unknown__422_at_its_path(
    harness: Harness, url: str
) -> None:
    admin = await settings_world(harness)
    twice = await harness.client.put(
        url, json={"guardrail_metrics": ["errors", "latency", "errors"]}, headers=admin
    )
    assert twice.status_code == 422, twice.text
    assert twice.json()["error"]["details"]["errors"] == [
        {"path": "guardrail_metrics[2]", "message": "'errors' is named twice (first at guardrail_metrics[0])"}
    ]
    unknown = await harness.client.put(
        url, json={"guardrail_metrics": ["errors", "nope"], "success_metric": "none"}, headers=admin
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"]["errors"] == [
        {"path": "guardrail_metrics[1]", "message": "no such metric: nope"},
        {"path": "success_metric", "message": "no such metric: none"},
    ]


@pytest.mark.parametrize(
    ("url", "label"), list(zip(SETTINGS_URLS, ("production", "production/f"), strict=True))
)
async def test_safety_settings__version_required_once_they_exist(
    harness: Harness, url: str, label: str
) -> None:
    admin = await settings_world(harness)
    # Given no settings yet: a first write names no version, or 0 (what a GET answers), nothing else
    ahead = await harness.client.put(url, json={"version": 3, "alpha": 0.01}, headers=admin)
    assert ahead.status_code == 409
    assert ahead.json()["error"]["details"] == {"current_version": 0, "given_version": 3}
    assert (await harness.client.put(url, json={"alpha": 0.01}, headers=admin)).status_code == 200

    # When a later write leaves the version out
    missing = await harness.client.put(url, json={"alpha": 0.02}, headers=admin)

    # Then it is a 422 at version (not a conflict with a version nobody sent)
    assert missing.status_code == 422, missing.text
    [problem] = missing.json()["error"]["details"]["errors"]
    assert problem["path"] == "version" and "the version read" in problem["message"]
    # a stale one is a conflict naming the settings as the audit trail does
    stale = await harness.client.put(url, json={"alpha": 0.02, "version": 0}, headers=admin)
    assert stale.status_code == 409
    assert stale.json()["error"]["message"].startswith(f"safety_settings '{label}' changed since version 0")
    assert stale.json()["error"]["details"] == {"current_version": 1, "given_version": 0}
    current = await harness.client.put(url, json={"alpha": 0.02, "version": 1}, headers=admin)
    assert current.status_code == 200 and current.json()["data"]["version"] == 2
    assert {r["resource_id"] for r in await harness.audit(action="safety.settings_updated")} == {label}
