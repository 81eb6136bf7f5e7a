"""Refresh rotation under real concurrency (one winner, the losers' reuse revokes the family) and
password strength (zxcvbn): weak or self-naming passwords are refused with a clear 422."""

from __future__ import annotations

import asyncio

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Harness

REFRESH = "/api/v1/auth/refresh"


async def test_refresh_race__exactly_one_winner__family_revoked(harness: Harness) -> None:
    # Given one refresh token
    login = await harness.client.post(
        "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    token = login.json()["refresh_token"]

    # When eight clients present it at the same moment (separate connections, truly concurrent)
    answers = await asyncio.gather(
        *(harness.client.post(REFRESH, json={"refresh_token": token}) for _ in range(8))
    )

    # Then exactly one rotation wins, every other presenter is refused (never a 500)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [401] * 7, statuses
    winner = next(a for a in answers if a.status_code == 200).json()["refresh_token"]
    # and the losers' reuse revoked the whole family: the winner's new token is dead too
    again = await harness.client.post(REFRESH, json={"refresh_token": winner})
    assert again.status_code == 401
    assert await harness.audit(action="auth.refresh_reuse_detected")


async def test_create_user__weak_password__422_with_reason(harness: Harness) -> None:
    admin = await harness.admin()
    for email, password, needle in (
        ("a@example.com", "password1234", "common password"),
        ("carol.smith@example.com", "carol.smith@example.com", "email"),
        ("dave@example.com", "davedavedave", "too weak"),
    ):
        response = await harness.client.post(
            "/api/v1/users", json={"email": email, "role": "viewer", "password": password}, headers=admin
        )
        assert response.status_code == 422, (password, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert needle in error["message"], error["message"]
        assert error["details"]["errors"][0]["path"] == "password"
    strong = await harness.client.post(
        "/api/v1/users",
        json={"email": "e@example.com", "role": "viewer", "password": "granite-otter-lantern-93"},
        headers=admin,
    )
    assert strong.status_code == 201, strong.text


async def test_change_password__weak__refused_and_old_password_kept(harness: Harness) -> None:
    headers = await harness.admin()
    weak = await harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": "admin@example.com"},
        headers=headers,
    )
    assert weak.status_code == 422 and weak.json()["error"]["details"]["errors"][0]["path"] == "new_password"
    assert (await harness.login(ADMIN_EMAIL, ADMIN_PASSWORD))["Authorization"]


async def test_create_user__internal_domains_accepted__nonsense_refused(harness: Harness) -> None:
    """People at the first admin's own domain (`admin@experimently.local` by default), or at a
    company's `.local` / `.test` domain, could not be added: 'special-use or reserved name'."""
    admin = await harness.admin()
    for i, email in enumerate(("bob@experimently.local", "ana@walk.test", "eve@corp.internal")):
        response = await harness.client.post(
            "/api/v1/users",
            json={"email": email, "role": "viewer", "password": f"granite-otter-lantern-9{i}"},
            headers=admin,
        )
        assert response.status_code == 201, response.text
    for email in ("bob@localhost", "bob@", "bob@nowhere.invalid"):
        response = await harness.client.post(
            "/api/v1/users",
            json={"email": email, "role": "viewer", "password": "granite-otter-lantern-93"},
            headers=admin,
        )
        assert response.status_code == 422, (email, response.text)
