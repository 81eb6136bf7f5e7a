"""MFA (TOTP): enrolment with a QR code, two-step login ending in OAuth2 token JSON, wrong and
replayed codes, single-use recovery codes, the per-account limit, the required-MFA policy and the
admin reset. The clock is ours to move (TOTP steps are 30 s)."""

from __future__ import annotations

import asyncio
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, FakeClock, Harness

AUTH = "/api/v1/auth"


async def enable_mfa(h: Harness, headers: dict[str, str], clock: FakeClock) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = await h.client.post(f"{AUTH}/mfa/enrol", headers=headers)
    assert enrolment.status_code == 200, enrolment.text
    data = enrolment.json()["data"]
    totp = pyotp.TOTP(data["secret"])
    confirmed = await h.client.post(
        f"{AUTH}/mfa/confirm", json={"code": totp.at(clock.moment)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(seconds=30)  # the confirming code's step is spent
    return totp, confirmed.json()["data"]["recovery_codes"]


async def first_step(h: Harness, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    response = await h.client.post(f"{AUTH}/token", data={"username": email, "password": password})
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "MFA_REQUIRED"
    assert error["details"]["methods"] == ["totp", "recovery_code"]
    token: str = error["details"]["mfa_token"]
    return token


async def second_step(h: Harness, mfa_token: str, code: str) -> Any:
    return await h.client.post(f"{AUTH}/token/mfa", json={"mfa_token": mfa_token, "code": code})


async def test_enrol__qr_and_uri__confirm_with_first_code(harness: Harness, fake_clock: FakeClock) -> None:
    headers = await harness.admin()
    enrolment = (await harness.client.post(f"{AUTH}/mfa/enrol", headers=headers)).json()["data"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/Experimently:admin%40example.com?secret=")
    assert enrolment["qr_svg"].startswith("data:image/svg+xml")
    status = (await harness.client.get(f"{AUTH}/mfa", headers=headers)).json()["data"]
    assert status["enabled"] is False
    wrong = await harness.client.post(f"{AUTH}/mfa/confirm", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 401
    totp = pyotp.TOTP(enrolment["secret"])
    ok = await harness.client.post(
        f"{AUTH}/mfa/confirm", json={"code": totp.at(fake_clock.moment)}, headers=headers
    )
    codes = ok.json()["data"]["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status = (await harness.client.get(f"{AUTH}/mfa", headers=headers)).json()["data"]
    assert status == {
        "enabled": True,
        "required": False,
        "recovery_codes_left": 10,
        "managed_by_identity_provider": False,
    }
    # a database dump holds neither the seed nor a recovery code
    async with harness.runtime.db.engine.connect() as conn:
        seeds = (await conn.execute(text("SELECT secret FROM user_mfa"))).scalars().all()
        hashes = (await conn.execute(text("SELECT code_hash FROM mfa_recovery_codes"))).scalars().all()
    assert seeds and all(enrolment["secret"] not in s and s.startswith("fernet:") for s in seeds)
    assert not set(codes) & set(hashes) and len(hashes) == 10
    # the record says what changed in the user as read (it said nothing: before and after null)
    [record] = await harness.audit(action="user.mfa_enabled")
    assert record["before"] == {"mfa_enabled": False} and record["after"] == {"mfa_enabled": True}


async def test_two_step_login__token_json__replay_and_wrong_code_refused(
    harness: Harness, fake_clock: FakeClock
) -> None:
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    mfa_token = await first_step(harness)
    wrong = await second_step(
        harness, mfa_token, "123456" if totp.at(fake_clock.moment) != "123456" else "654321"
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    code = totp.at(fake_clock.moment)
    ok = await second_step(harness, mfa_token, code)
    assert ok.status_code == 200, ok.text
    assert set(ok.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}
    me = await harness.client.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
    )
    assert me.status_code == 200
    # the same code again, inside its window, is refused
    replay = await second_step(harness, await first_step(harness), code)
    assert replay.status_code == 401
    failures = await harness.audit(action="auth.login_failed")
    assert [f["reason"] for f in failures].count("mfa_code") == 2
    # an access token is not an MFA token
    forged = await second_step(harness, ok.json()["access_token"], totp.at(fake_clock.moment))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "TOKEN_INVALID"
    # and an MFA token expires after five minutes
    late = await first_step(harness)
    fake_clock.advance(seconds=301)
    expired = await second_step(harness, late, totp.at(fake_clock.moment))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "TOKEN_INVALID"


async def test_recovery_code__single_use(harness: Harness, fake_clock: FakeClock) -> None:
    _, codes = await enable_mfa(harness, await harness.admin(), fake_clock)
    first = await second_step(harness, await first_step(harness), codes[0].lower())
    assert first.status_code == 200
    again = await second_step(harness, await first_step(harness), codes[0])
    assert again.status_code == 401
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    status = (await harness.client.get(f"{AUTH}/mfa", headers=headers)).json()["data"]
    assert status["recovery_codes_left"] == 9
    # disable needs a code: a recovery code does it
    refused = await harness.client.post(f"{AUTH}/mfa/disable", json={"code": "999999"}, headers=headers)
    assert refused.status_code == 401
    off = await harness.client.post(f"{AUTH}/mfa/disable", json={"code": codes[1]}, headers=headers)
    assert off.status_code == 204
    plain = await harness.client.post(
        f"{AUTH}/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert plain.status_code == 200


async def test_codes__rate_limited_per_account(harness: Harness, fake_clock: FakeClock) -> None:
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    mfa_token = await first_step(harness)
    # five attempts a minute (MFA_RATE_LIMIT), the confirming code included
    statuses = [(await second_step(harness, mfa_token, "000001")).status_code for _ in range(4)]
    assert statuses == [401] * 4
    # the limit holds even for the right code: guessing stops here
    limited = await second_step(harness, mfa_token, totp.at(fake_clock.moment))
    assert limited.status_code == 429 and "Retry-After" in limited.headers


async def test_admin_reset__audited__user_logs_in_with_password(
    harness: Harness, fake_clock: FakeClock
) -> None:
    headers, user_id = await harness.user("developer", "dev@example.com")
    await enable_mfa(harness, headers, fake_clock)
    await first_step(harness, "dev@example.com", "user-password-123")
    viewer, _ = await harness.user("viewer", "viewer@example.com")

    async def mfa_on() -> bool:
        people = (await harness.client.get("/api/v1/users", headers=await harness.admin())).json()["data"]
        return bool(next(p for p in people if p["id"] == user_id)["mfa_enabled"])

    assert await mfa_on() is True  # an admin sees who uses two-step sign-in
    denied = await harness.client.post(f"/api/v1/users/{user_id}/mfa/reset", headers=viewer)
    assert denied.status_code == 403
    reset = await harness.client.post(f"/api/v1/users/{user_id}/mfa/reset", headers=await harness.admin())
    assert reset.status_code == 204
    rows = await harness.audit(action="user.mfa_reset")
    assert len(rows) == 1 and rows[0]["resource_id"] == user_id
    assert await mfa_on() is False
    assert await harness.login("dev@example.com", "user-password-123")


class TestRequiredPolicy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"mfa_required": "admins"}

    async def test_admin_without_mfa__blocked_until_enrolled(
        self, harness: Harness, fake_clock: FakeClock
    ) -> None:
        headers = await harness.admin()
        blocked = await harness.client.get("/api/v1/feature-flags", headers=headers)
        assert blocked.status_code == 403
        assert blocked.json()["error"]["code"] == "MFA_ENROLMENT_REQUIRED"
        assert (await harness.client.get(f"{AUTH}/me", headers=headers)).status_code == 200
        assert (await harness.client.get(f"{AUTH}/mfa", headers=headers)).json()["data"]["required"] is True
        await enable_mfa(harness, headers, fake_clock)
        # a viewer is not an admin: the policy does not apply to it
        viewer, _ = await harness.user("viewer", "v@example.com")
        assert (await harness.client.get("/api/v1/feature-flags", headers=viewer)).status_code == 200
        assert (await harness.client.get("/api/v1/feature-flags", headers=headers)).status_code == 200


async def test_same_code_presented_twice_at_once__one_login(harness: Harness, fake_clock: FakeClock) -> None:
    totp, _ = await enable_mfa(harness, await harness.admin(), fake_clock)
    first, second = await first_step(harness), await first_step(harness)
    code = totp.at(fake_clock.moment)
    answers = await asyncio.gather(second_step(harness, first, code), second_step(harness, second, code))
    assert sorted(a.status_code for a in answers) == [200, 401]


async def test_mfa_token__completes_one_sign_in(harness: Harness, fake_clock: FakeClock) -> None:
    totp, codes = await enable_mfa(harness, await harness.admin(), fake_clock)
    token = await first_step(harness)
    assert (await second_step(harness, token, codes[0])).status_code == 200
    # the same token again, with another valid recovery code or with a fresh TOTP code: refused
    again = await second_step(harness, token, codes[1])
    assert again.status_code == 401 and again.json()["error"]["code"] == "TOKEN_INVALID"
    fake_clock.advance(seconds=30)
    again = await second_step(harness, token, totp.at(fake_clock.moment))
    assert again.status_code == 401 and again.json()["error"]["code"] == "TOKEN_INVALID"
    # the refused attempts spent nothing: that recovery code still signs in with a new token
    assert (await second_step(harness, await first_step(harness), codes[1])).status_code == 200
    # a recovery code's sign-in is told apart from a TOTP code's in the trail
    reasons = [r["reason"] for r in await harness.audit(action="auth.login")]
    assert reasons.count("mfa_recovery_code") == 2


async def test_mfa_token__refused_once_another_sign_in_completed(
    harness: Harness, fake_clock: FakeClock
) -> None:
    _, codes = await enable_mfa(harness, await harness.admin(), fake_clock)
    older, newer = await first_step(harness), await first_step(harness)
    assert (await second_step(harness, newer, codes[0])).status_code == 200
    stale = await second_step(harness, older, codes[1])
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "TOKEN_INVALID"


async def test_mfa_token__two_codes_at_once__one_sign_in(harness: Harness, fake_clock: FakeClock) -> None:
    _, codes = await enable_mfa(harness, await harness.admin(), fake_clock)
    token = await first_step(harness)
    answers = await asyncio.gather(
        second_step(harness, token, codes[0]), second_step(harness, token, codes[1])
    )
    assert sorted(a.status_code for a in answers) == [200, 401]
    # the refused one's recovery code was given back with its transaction: nine are left minus one
    ok = next(a for a in answers if a.status_code == 200)
    headers = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    status = (await harness.client.get(f"{AUTH}/mfa", headers=headers)).json()["data"]
    assert status["recovery_codes_left"] == 9
