"""Sessions (``/api/beta``): list with device and last use, end one or all, admins for others, the
idle timeout. Versioning: a deprecated operation announces ``Deprecation``/``Sunset`` in its answers
and in OpenAPI."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import APIRouter

from experimently.kit.deprecation import deprecated
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, FakeClock, Harness

BETA = "/api/beta"


async def login(
    h: Harness, agent: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> dict[str, Any]:
    response = await h.client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}, headers={"User-Agent": agent}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_sessions__listed_with_device__one_ended(harness: Harness, fake_clock: FakeClock) -> None:
    # Given two logins from two devices
    laptop = await login(harness, "Firefox on laptop")
    fake_clock.advance(minutes=5)
    phone = await login(harness, "Safari on phone")

    # When the laptop lists its sessions
    listed = (await harness.client.get(f"{BETA}/sessions", headers=bearer(laptop))).json()["data"]

    # Then both appear, newest use first, with device, IP and which one is current
    assert [s["user_agent"] for s in listed] == ["Safari on phone", "Firefox on laptop"]
    assert [s["current"] for s in listed] == [False, True]
    assert all(s["ip"] for s in listed)

    # When the laptop ends the phone's session, the phone can no longer refresh
    ended = await harness.client.delete(f"{BETA}/sessions/{listed[0]['id']}", headers=bearer(laptop))
    assert ended.status_code == 200 and ended.json()["data"] == {"ended": 1}
    refused = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert refused.status_code == 401
    # a session ended on purpose is no stolen token: refused without the theft alarm
    assert await harness.audit(action="auth.refresh_reuse_detected") == []
    assert (
        await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    ).status_code == 200
    assert await harness.audit(action="auth.session_revoked")
    # while a rotated token presented again, its session alive, still raises it (and ends the session)
    replayed = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert replayed.status_code == 401
    assert len(await harness.audit(action="auth.refresh_reuse_detected")) == 1
    unknown = await harness.client.delete(f"{BETA}/sessions/nope", headers=bearer(laptop))
    assert unknown.status_code == 404


async def test_admin__ends_another_persons_sessions__others_cannot(harness: Harness) -> None:
    _, user_id = await harness.user("developer", "dev@example.com")
    dev = await login(harness, "curl", "dev@example.com", "user-password-123")
    viewer, _ = await harness.user("viewer", "viewer@example.com")
    assert (await harness.client.get(f"{BETA}/users/{user_id}/sessions", headers=viewer)).status_code == 403
    assert (
        await harness.client.delete(f"{BETA}/users/{user_id}/sessions", headers=viewer)
    ).status_code == 403
    admin = await harness.admin()
    listed = await harness.client.get(f"{BETA}/users/{user_id}/sessions", headers=admin)
    assert len(listed.json()["data"]) == 2  # harness.user's own login and this one
    ended = await harness.client.delete(f"{BETA}/users/{user_id}/sessions", headers=admin)
    assert ended.json()["data"] == {"ended": 2}
    assert (
        await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": dev["refresh_token"]})
    ).status_code == 401
    rows = await harness.audit(action="auth.sessions_revoked")
    assert rows and rows[0]["resource_id"] == user_id


class TestIdleTimeout:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"session_idle_timeout_seconds": 3600}

    async def test_idle_session__not_listed__refresh_refused(
        self, harness: Harness, fake_clock: FakeClock
    ) -> None:
        tokens = await login(harness, "laptop")
        fake_clock.advance(minutes=50)
        kept = await harness.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert kept.status_code == 200  # used within the hour: continues
        fake_clock.advance(minutes=61)
        expired = await harness.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": kept.json()["refresh_token"]}
        )
        assert expired.status_code == 401
        assert await harness.audit(action="auth.session_idle_expired")


async def test_deprecated_operation__headers_and_openapi(harness: Harness) -> None:
    router = APIRouter()

    @router.get(
        "/api/v1/test-old",
        **deprecated(since=date(2026, 12, 1), sunset=date(2027, 12, 1), successor="/api/v1/test-new"),
    )
    async def old() -> dict[str, str]:
        return {"data": "still here"}

    app = harness.client._transport.app  # type: ignore[attr-defined]  # ASGITransport keeps its app
    app.include_router(router)
    app.openapi_schema = None
    response = await harness.client.get("/api/v1/test-old")
    assert response.status_code == 200
    assert response.headers["Deprecation"] == "@1796083200"
    assert response.headers["Sunset"] == "Wed, 01 Dec 2027 00:00:00 GMT"
    assert response.headers["Link"] == '</api/v1/test-new>; rel="successor-version"'
    operation = (await harness.client.get("/api/openapi.json")).json()["paths"]["/api/v1/test-old"]["get"]
    assert operation["deprecated"] is True and operation["x-sunset"] == "2027-12-01"
    assert "Sunset" in operation["responses"]["200"]["headers"]
    with pytest.raises(ValueError, match="365 days"):
        deprecated(since=date(2026, 12, 1), sunset=date(2027, 1, 1))


async def test_current_api__nothing_deprecated_without_a_sunset(harness: Harness) -> None:
    spec = (await harness.client.get("/api/openapi.json")).json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if operation.get("deprecated"):
                assert "x-sunset" in operation, (method, path)
    assert any(p.startswith("/api/beta/") for p in spec["paths"])
