"""One audit snapshot style: a record of a change to a stored entity carries the entity as its read
schema shows it (``audit.snapshot``), minus the fields every change touches, in ``before`` (absent for a
creation) and ``after`` (absent for a deletion). So the trail of every domain reads the same, and what
the API answered is what the trail kept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness

API = "/api/v1"
FLAGS = f"{API}/feature-flags"
VOLATILE = {"id", "created_at", "updated_at"}
METRIC = {"key": "errors", "name": "Errors", "kind": "count", "event_name": "error", "direction": "lower"}
VARIANTS = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]


def _shown(data: dict[str, Any], volatile: set[str] = VOLATILE) -> dict[str, Any]:
    """What an audit snapshot keeps of an API resource."""
    return {k: v for k, v in data.items() if k not in volatile}


async def _read(h: Harness, path: str) -> dict[str, Any]:
    response = await h.client.get(path, headers=await h.admin())
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _listed(h: Harness, path: str) -> dict[str, dict[str, Any]]:
    """A list resource by id."""
    response = await h.client.get(path, headers=await h.admin())
    assert response.status_code == 200, response.text
    return {str(item["id"]): item for item in response.json()["data"]}


async def _one_record(h: Harness, action: str, resource_id: str) -> dict[str, Any]:
    [record] = await h.audit(action=action, resource_id=resource_id)
    return record


async def _created(h: Harness, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await h.client.post(path, json=body, headers=await h.admin())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.parametrize(
    ("domain", "path", "body", "ref", "read"),
    [
        ("flag", FLAGS, {"key": "checkout", "name": "Checkout"}, "key", f"{FLAGS}/checkout"),
        ("segment", f"{API}/segments", {"key": "beta", "name": "Beta", "conditions": []}, "key", None),
        ("metric", f"{API}/metrics", METRIC, "key", None),
        ("experiment", f"{API}/experiments", {"key": "e", "name": "E", "variants": VARIANTS}, "id", None),
        ("webhook", f"{API}/webhooks", {"url": "https://hooks.example.com/x"}, "id", None),
    ],
)
async def test_created__after_is_the_resource_as_read__every_domain(
    harness: Harness, domain: str, path: str, body: dict[str, Any], ref: str, read: str | None
) -> None:
    # Given a resource created through the API
    created = await _created(harness, path, body)

    # When its creation's audit record is read
    record = await _one_record(harness, f"{domain}.created", created[ref])

    # Then it holds the resource as the API reads it back, minus the volatile fields, and no before
    shown = await _read(harness, read or f"{path}/{created[ref]}")
    assert record["before"] is None
    assert record["after"] == _shown(shown)


async def test_user_and_environment__snapshots_are_their_read_views(harness: Harness) -> None:
    # Given a user and an environment created, then changed
    admin = await harness.admin()
    _, user_id = await harness.user("viewer", "v@example.com")
    changed = await harness.client.patch(f"{API}/users/{user_id}", json={"role": "analyst"}, headers=admin)
    assert changed.status_code == 200
    env = await _created(harness, f"{API}/environments", {"key": "qa", "name": "QA"})
    renamed = await harness.client.patch(f"{API}/environments/qa", json={"name": "Quality"}, headers=admin)
    assert renamed.status_code == 200

    # Then the records' snapshots are the read views (the last login is no part of a change)
    users = await _listed(harness, f"{API}/users")
    record = await _one_record(harness, "user.updated", user_id)
    assert record["after"] == _shown(users[user_id], VOLATILE | {"last_login_at"})
    assert record["before"] == record["after"] | {"role": "viewer"}
    assert record["diff"] == {"role": {"before": "viewer", "after": "analyst"}}
    envs = await _listed(harness, f"{API}/environments")
    record = await _one_record(harness, "environment.updated", env["id"])
    assert record["after"] == _shown(envs[env["id"]])
    assert record["before"] == record["after"] | {"name": "QA"}


async def test_segment_deleted__before_is_the_last_state(harness: Harness) -> None:
    # Given a segment, changed once
    admin = await harness.admin()
    await _created(harness, f"{API}/segments", {"key": "beta", "name": "Beta", "conditions": []})
    patched = await harness.client.patch(
        f"{API}/segments/beta", json={"version": 1, "name": "B"}, headers=admin
    )
    assert patched.status_code == 200
    last = await _read(harness, f"{API}/segments/beta")

    # When it is deleted
    assert (await harness.client.delete(f"{API}/segments/beta", headers=admin)).status_code == 204

    # Then the deletion keeps the last state as read, and no after
    record = await _one_record(harness, "segment.deleted", "beta")
    assert record["before"] == _shown(last) and record["after"] is None


async def test_guarded_rollout_cancelled__before_and_after_are_the_rollout(harness: Harness) -> None:
    # Given a flag on in production (serving "on") under a guarded rollout back to "off"
    admin = await harness.admin()
    await _created(harness, f"{API}/metrics", METRIC)
    await _created(harness, FLAGS, {"key": "f", "name": "F"})
    enabled = await harness.client.post(f"{FLAGS}/f/environments/production/enable", json={}, headers=admin)
    assert enabled.status_code == 200
    body = {
        "environment": "production",
        "variation": "off",
        "percentage": 10,
        "guardrail_metrics": ["errors"],
    }
    started = await _created(harness, f"{FLAGS}/f/guarded-rollouts", body)

    # When it is cancelled
    url = f"{FLAGS}/f/guarded-rollouts/{started['id']}/cancel"
    cancelled = await harness.client.post(url, headers=admin)
    assert cancelled.status_code == 200

    # Then both snapshots are the rollout as read (its id kept: the record's resource is the flag),
    # without the monitor's working data, and the diff is the transition
    [record] = await harness.audit(action="flag.guarded_rollout_cancelled")
    working = {"created_at", "history", "last_check"}
    assert record["after"] == _shown(cancelled.json()["data"], working)
    assert record["before"]["status"] == "running" and record["before"]["id"] == started["id"]
    assert set(record["diff"]) == {"status", "outcome", "ended_at"}
    [begun] = await harness.audit(action="flag.guarded_rollout_started")
    assert begun["before"] is None and set(begun["after"]) == set(record["after"])


async def test_safety_settings__snapshots_without_the_update_time(harness: Harness) -> None:
    # Given the environment's safety settings written twice
    admin = await harness.admin()
    await _created(harness, f"{API}/metrics", METRIC)
    url = f"{API}/environments/production/safety-settings"
    first = await harness.client.put(url, json={"guardrail_metrics": ["errors"]}, headers=admin)
    assert first.status_code == 200
    second = await harness.client.put(
        url, json={"guardrail_metrics": ["errors"], "alpha": 0.01, "version": 1}, headers=admin
    )
    assert second.status_code == 200

    # Then the second record's snapshots are the two reads, and its diff is what changed
    records = await harness.audit(action="safety.settings_updated")
    assert records[0]["before"] == _shown(first.json()["data"])
    assert records[0]["after"] == _shown(second.json()["data"])
    assert records[0]["diff"] == {
        "alpha": {"before": None, "after": 0.01},
        "version": {"before": 1, "after": 2},
    }


async def test_api_key_created_and_revoked__snapshots_are_the_key_as_listed(harness: Harness) -> None:
    # Given an API key created, then revoked
    admin = await harness.admin()
    body = {"name": "ci", "environment": "production", "scopes": ["evaluate"]}
    created = await harness.client.post(f"{API}/api-keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    revoked = await harness.client.post(f"{API}/api-keys/{key['id']}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    # Then both records carry the key as the list shows it: prefix, never the secret
    listed = (await _listed(harness, f"{API}/api-keys"))[key["id"]]
    made = await _one_record(harness, "api_key.created", key["id"])
    gone = await _one_record(harness, "api_key.revoked", key["id"])
    assert gone["after"] == _shown(listed)
    assert made["after"] == {**_shown(listed), "revoked_at": None}
    assert gone["before"] == made["after"]
    assert key["key"] not in str([made, gone])
