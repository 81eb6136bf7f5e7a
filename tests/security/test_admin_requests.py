"""What an admin sends is what happens: a field the server does not know is a 422 (never silently
ignored), a request that changes nothing records no change, a "new" password equal to the current one
is refused, a first write may echo the version a GET answered, and a key without the permission hears
which permission it lacks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, Harness


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/api/v1/users/{user}", {"password": "a-new-password-123!"}, "password"),
        ("PATCH", "/api/v1/environments/staging", {"key": "renamed"}, "key"),
        ("POST", "/api/v1/environments", {"key": "qa", "name": "QA", "colour": "red"}, "colour"),
        ("POST", "/api/v1/users", {"email": "x@example.com", "rolle": "admin"}, "rolle"),
        (
            "POST",
            "/api/v1/api-keys",
            {"name": "k", "environment": "staging", "scopes": ["evaluate"], "expires": "2030-01-01"},
            "expires",
        ),
        ("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["flag.killed"]}, "events"),
    ],
)
async def test_unknown_field__422_naming_it__nothing_recorded(
    harness: Harness, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    _, user_id = await harness.user("viewer", "vic@example.com")
    before = len(await harness.audit())
    response = await harness.client.request(
        method, path.format(user=user_id), json=body, headers=await harness.admin()
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["error"]["details"]["errors"]
    assert error["path"] == field
    assert len(await harness.audit()) == before


async def test_change_of_nothing__no_record(harness: Harness) -> None:
    admin = await harness.admin()
    _, user_id = await harness.user("viewer", "vic@example.com")
    before = len(await harness.audit())
    same_role = await harness.client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"}, headers=admin)
    same_name = await harness.client.patch("/api/v1/environments/staging", json={}, headers=admin)
    assert same_role.status_code == same_name.status_code == 200
    assert len(await harness.audit()) == before
    # ... while a real change still is one
    moved = await harness.client.patch(f"/api/v1/users/{user_id}", json={"role": "analyst"}, headers=admin)
    assert moved.status_code == 200
    [record] = await harness.audit(action="user.updated")
    assert record["diff"] == {"role": {"before": "viewer", "after": "analyst"}}


async def test_mfa_reset__account_without_mfa__409_nothing_recorded(harness: Harness) -> None:
    _, user_id = await harness.user("viewer", "vic@example.com")
    reset = await harness.client.post(f"/api/v1/users/{user_id}/mfa/reset", headers=await harness.admin())
    assert reset.status_code == 409 and "not on" in reset.json()["error"]["message"]
    assert await harness.audit(action="user.mfa_reset") == []


async def test_new_password_equal_to_current__422(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": ADMIN_PASSWORD},
        headers=await harness.admin(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["errors"][0]["path"] == "new_password"
    assert await harness.audit(action="user.password_changed") == []


async def test_safety_settings__first_write_echoes_the_version_read(harness: Harness) -> None:
    admin = await harness.admin()
    url = "/api/v1/environments/production/safety-settings"
    read = (await harness.client.get(url, headers=admin)).json()["data"]
    assert read["version"] == 0
    first = await harness.client.put(url, json={"alpha": 0.01, "version": read["version"]}, headers=admin)
    assert first.status_code == 200, first.text
    stale = await harness.client.put(url, json={"alpha": 0.02, "version": 0}, headers=admin)
    assert stale.status_code == 409


async def test_key_without_flags_write__told_the_permission_when_archiving(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/feature-flags", json={"key": "f", "name": "f"}, headers=await harness.admin()
    )
    assert created.status_code == 201
    track = await harness.api_key(["track"])
    refused = await harness.client.delete("/api/v1/feature-flags/f", headers=track)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["permission"] == "flags:write"
