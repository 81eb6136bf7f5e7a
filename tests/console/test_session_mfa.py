"""The console's second sign-in step with MFA: ``POST /auth/session/mfa`` answers like
``/auth/session`` (cookies and CSRF token), refuses a wrong or replayed code, and takes a recovery code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, FakeClock, Harness
from tests.security.test_mfa import enable_mfa

SESSION = "/api/v1/auth/session"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"cookie_secure": False}  # the test client speaks plain http


async def _first_step(h: Harness) -> str:
    response = await h.client.post(SESSION, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "MFA_REQUIRED"
    assert not response.headers.get_list("set-cookie")  # no session before the second step
    token: str = error["details"]["mfa_token"]
    return token


async def test_session_mfa__right_code__cookies_and_csrf_like_sign_in(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given an account with MFA on, past the password step
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    mfa_token = await _first_step(harness)
    # When the browser sends the code
    response = await harness.client.post(
        f"{SESSION}/mfa",
        json={"mfa_token": mfa_token, "code": totp.at(fake_clock.moment)},
        headers={"User-Agent": "console-test"},
    )
    # Then it gets the console's session: access + CSRF tokens in the body, refresh in the cookie
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "csrf_token"}
    cookies = response.headers.get_list("set-cookie")
    refresh = next(c for c in cookies if c.startswith("experimently_refresh="))
    assert "HttpOnly" in refresh and "Path=/api/v1/auth/session" in refresh
    # the session records the client, like /auth/session
    sessions = await harness.client.get(
        "/api/beta/sessions", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert sessions.status_code == 200, sessions.text
    assert "console-test" in [s["user_agent"] for s in sessions.json()["data"]]
    # the cookie refreshes like any console session
    refreshed = await harness.client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": body["csrf_token"]})
    assert refreshed.status_code == 200, refreshed.text
    logins = await harness.audit(action="auth.login")
    assert any(entry.get("reason") == "mfa" for entry in logins)


async def test_session_mfa__wrong_code__401_no_cookie_and_audited(
    harness: Harness, fake_clock: FakeClock
) -> None:
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    mfa_token = await _first_step(harness)
    wrong = "123456" if totp.at(fake_clock.moment) != "123456" else "654321"
    response = await harness.client.post(f"{SESSION}/mfa", json={"mfa_token": mfa_token, "code": wrong})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert not response.headers.get_list("set-cookie")
    failures = await harness.audit(action="auth.login_failed")
    assert [f["reason"] for f in failures].count("mfa_code") == 1


async def test_session_mfa__replayed_code_or_recovery_code__refused(
    harness: Harness, fake_clock: FakeClock
) -> None:
    totp, recovery = await enable_mfa(harness, await harness.admin(), fake_clock)
    code = totp.at(fake_clock.moment)
    first = await harness.client.post(
        f"{SESSION}/mfa", json={"mfa_token": await _first_step(harness), "code": code}
    )
    assert first.status_code == 200, first.text
    # the same TOTP code again, inside its window, is refused
    replay = await harness.client.post(
        f"{SESSION}/mfa", json={"mfa_token": await _first_step(harness), "code": code}
    )
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "INVALID_CREDENTIALS"
    # a recovery code works once
    by_recovery = await harness.client.post(
        f"{SESSION}/mfa", json={"mfa_token": await _first_step(harness), "code": recovery[0]}
    )
    assert by_recovery.status_code == 200, by_recovery.text
    again = await harness.client.post(
        f"{SESSION}/mfa", json={"mfa_token": await _first_step(harness), "code": recovery[0]}
    )
    assert again.status_code == 401


async def test_session_mfa__access_token_is_not_an_mfa_token(harness: Harness, fake_clock: FakeClock) -> None:
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    ok = await harness.client.post(
        f"{SESSION}/mfa",
        json={"mfa_token": await _first_step(harness), "code": totp.at(fake_clock.moment)},
    )
    forged = await harness.client.post(
        f"{SESSION}/mfa",
        json={"mfa_token": ok.json()["access_token"], "code": totp.at(fake_clock.moment)},
    )
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "TOKEN_INVALID"
