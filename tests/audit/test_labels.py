"""What an audit reader sees: every record names its resource (``resource_label``) whatever the reader
may list, and a webhook's URL, which can hold its receiver's secret, is shown whole only to those who
manage webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from experimently.webhooks.urls import redacted
from tests.conftest import Harness

SLACK = "https://hooks.slack.com/services/T000/B000/very-secret-token"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True}


async def _records(h: Harness, headers: dict[str, str], **filters: Any) -> list[dict[str, Any]]:
    response = await h.client.get("/api/v1/audit-logs", params={"limit": 500, **filters}, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


async def test_analyst__reads_names_of_people_environments_keys_experiments(harness: Harness) -> None:
    h = harness
    admin = await h.admin()
    _, dev_id = await h.user("developer", "dev@example.com")
    assert (
        await h.client.post("/api/v1/environments", json={"key": "qa", "name": "QA"}, headers=admin)
    ).is_success
    key = await h.client.post(
        "/api/v1/api-keys",
        json={"name": "checkout", "environment": "qa", "scopes": ["evaluate"]},
        headers=admin,
    )
    variants = [{"key": "a", "weight": 50, "is_control": True}, {"key": "b", "weight": 50}]
    experiment = await h.client.post(
        "/api/v1/experiments", json={"key": "buy-button", "name": "Buy", "variants": variants}, headers=admin
    )
    flag = await h.client.post("/api/v1/feature-flags", json={"key": "new-nav", "name": "Nav"}, headers=admin)
    assert key.status_code == experiment.status_code == flag.status_code == 201
    analyst, _ = await h.user("analyst", "ana@example.com")  # may read the trail, may not list people

    assert (await h.client.get("/api/v1/users", headers=analyst)).status_code == 403
    labels = {(r["resource_type"], r["resource_id"]): r["resource_label"] for r in await _records(h, analyst)}
    assert labels["user", dev_id] == "dev@example.com"
    assert labels["api_key", key.json()["data"]["id"]] == "checkout"
    assert labels["experiment", experiment.json()["data"]["id"]] == "buy-button"
    assert labels["flag", "new-nav"] == "new-nav"
    env = next(
        r for r in await _records(h, analyst, resource_type="environment") if r["after"]["key"] == "qa"
    )
    assert env["resource_label"] == "qa"


async def test_renamed_resource__each_record_named_as_it_was_then(harness: Harness) -> None:
    h = harness
    admin = await h.admin()
    created = await h.client.post(
        "/api/v1/api-keys",
        json={"name": "old", "environment": "staging", "scopes": ["evaluate"]},
        headers=admin,
    )
    key_id = created.json()["data"]["id"]
    from experimently.auth.models import ApiKey

    async with h.runtime.db.sessions() as session, session.begin():
        row = await session.get(ApiKey, key_id)
        assert row is not None
        row.name = "new"
    revoked = await h.client.post(f"/api/v1/api-keys/{key_id}/revoke", headers=admin)
    assert revoked.status_code in (200, 204), revoked.text
    records = await h.audit(resource_id=key_id)
    # the creation names the key as it was then; the revocation, after the rename, by its new name
    assert [(r["action"], r["resource_label"]) for r in records] == [
        ("api_key.revoked", "new"),
        ("api_key.created", "old"),
    ]


async def test_deleted_webhook__named_by_its_records__url_redacted_for_analyst(harness: Harness) -> None:
    h = harness
    admin = await h.admin()
    created = await h.client.post("/api/v1/webhooks", json={"url": SLACK}, headers=admin)
    assert created.status_code == 201, created.text
    hook_id = created.json()["data"]["id"]
    moved = await h.client.patch(
        f"/api/v1/webhooks/{hook_id}", json={"url": SLACK + "-2", "version": 1}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert (await h.client.delete(f"/api/v1/webhooks/{hook_id}", headers=admin)).status_code == 200
    analyst, _ = await h.user("analyst")

    records = await _records(h, analyst, resource_id=hook_id)
    assert [r["action"] for r in records] == ["webhook.deleted", "webhook.updated", "webhook.created"]
    assert "very-secret-token" not in str(records)
    # each record names the webhook by the URL it had then
    assert [r["resource_label"] for r in records] == [redacted(SLACK + "-2")] * 2 + [redacted(SLACK)]
    change = records[1]["diff"]["url"]
    assert change == {"before": redacted(SLACK), "after": redacted(SLACK + "-2")}
    assert change["before"] != change["after"]  # a change of URL still shows as one
    assert change["before"].startswith("https://hooks.slack.com/")
    # the admin, who manages webhooks, reads the trail as it was written
    whole = await _records(h, admin, resource_id=hook_id)
    assert whole[1]["diff"]["url"] == {"before": SLACK, "after": SLACK + "-2"}
    assert whole[0]["resource_label"] == SLACK + "-2"


async def test_webhook_with_description__named_by_it(harness: Harness) -> None:
    h = harness
    admin = await h.admin()
    body = {"url": SLACK, "description": "on-call channel"}
    hook_id = (await h.client.post("/api/v1/webhooks", json=body, headers=admin)).json()["data"]["id"]
    analyst, _ = await h.user("analyst")
    [record] = await _records(h, analyst, resource_id=hook_id)
    assert record["resource_label"] == "on-call channel"
    assert record["after"]["url"] == redacted(SLACK)


async def test_own_sign_in__named_by_the_actor(harness: Harness) -> None:
    h = harness
    headers, user_id = await h.user("viewer", "vera@example.com")
    response = await h.client.post(
        "/api/v1/auth/password",
        json={"current_password": "user-password-123", "new_password": "another-password-456!"},
        headers=headers,
    )
    assert response.status_code in (200, 204), response.text
    own = [r for r in await h.audit(resource_id=user_id) if r["actor_id"] == user_id]
    assert own and {r["resource_label"] for r in own} == {"vera@example.com"}


def test_redacted__keeps_origin_hides_path_and_query() -> None:
    assert redacted("https://example.com") == "https://example.com/"
    assert redacted("https://example.com/") == "https://example.com/"
    hidden = redacted("https://example.com:8443/hook?token=abc")
    assert hidden.startswith("https://example.com:8443/… (sha256 ") and "abc" not in hidden
    assert redacted("https://example.com/a") != redacted("https://example.com/b")
