"""People: login, tokens, refresh rotation, logout, password change, rate limits, OIDC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from experimently.auth import security
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, FakeClock, Harness, start_harness


async def _token(h: Harness, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    response = await h.client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_login__standard_oauth2_json(harness: Harness) -> None:
    body = await _token(harness)
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    me = await harness.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["data"]["email"] == ADMIN_EMAIL and me.json()["data"]["role"] == "admin"


async def test_login__bad_password__401_and_audited(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": "wrong"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"
    failures = await harness.audit(action="auth.login_failed")
    assert len(failures) == 1 and failures[0]["actor_label"] == ADMIN_EMAIL


async def test_tampered_token__refused(harness: Harness) -> None:
    token = (await _token(harness))["access_token"]
    head, payload, sig = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "role": "admin"},
        "another-secret-of-thirty-two-bytes-at-least",
    )
    for bad in (f"{head}.{payload}.{sig[:-2]}AA", forged, "not-a-jwt"):
        response = await harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "TOKEN_INVALID"


async def test_expired_token__refused(harness: Harness, fake_clock: FakeClock) -> None:
    fake_clock.moment = datetime.now(UTC)
    token = (await _token(harness))["access_token"]
    ok = await harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    expired = security.issue_access_token(harness.settings.secret, "x", "admin", ttl_seconds=-10)
    response = await harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_refresh__rotates__and_reuse_revokes_family(harness: Harness) -> None:
    first = await _token(harness)
    rotated = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    reuse = await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    # the thief's reuse revoked the whole family: the legitimate new token is dead too
    after = await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


async def test_logout__revokes_refresh_token(harness: Harness) -> None:
    pair = await _token(harness)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    out = await harness.client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204
    again = await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


async def test_password_change__new_password_works_old_refused(harness: Harness) -> None:
    headers, _ = await harness.user("developer", "dev@example.com")
    changed = await harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": "user-password-123", "new_password": "a-much-better-password"},
        headers=headers,
    )
    assert changed.status_code == 204
    # the console's session cookies are cleared: its next refresh is no reuse of a revoked token
    cleared = changed.headers.get_list("set-cookie")
    assert any(c.startswith("experimently_refresh=") and "Max-Age=0" in c for c in cleared), cleared
    assert any(c.startswith("experimently_csrf=") and "Max-Age=0" in c for c in cleared), cleared
    old = await harness.client.post(
        "/api/v1/auth/token", data={"username": "dev@example.com", "password": "user-password-123"}
    )
    assert old.status_code == 401
    await _token(harness, "dev@example.com", "a-much-better-password")


async def test_password_change__token_issued_in_the_same_second__accepted(
    harness: Harness, fake_clock: FakeClock
) -> None:
    """Tokens are told apart from the change by the microsecond: the token issued 1 ms before the
    change is refused, the one issued 1 ms after it (the same second) is accepted."""
    fake_clock.moment = datetime.now(UTC).replace(microsecond=400_000)
    headers, _ = await harness.user("developer", "dev@example.com")
    fake_clock.advance(milliseconds=1)
    changed = await harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": "user-password-123", "new_password": "a-much-better-password"},
        headers=headers,
    )
    assert changed.status_code == 204
    old = await harness.client.get("/api/v1/auth/me", headers=headers)
    assert old.status_code == 401 and "predates a password change" in old.json()["error"]["message"]
    fake_clock.advance(milliseconds=1)
    pair = await _token(harness, "dev@example.com", "a-much-better-password")
    me = await harness.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200, me.text


async def test_token_of_whole_seconds__in_the_second_of_the_change__refused(
    harness: Harness, fake_clock: FakeClock
) -> None:
    """A token with a whole-second iat (older releases) cannot be placed within its second: refused."""
    fake_clock.moment = datetime.now(UTC).replace(microsecond=400_000)
    _, user_id = await harness.user("developer", "dev@example.com")
    reset = await harness.client.post(
        f"/api/v1/users/{user_id}/reset-password", headers=await harness.admin()
    )
    assert reset.status_code == 200
    fake_clock.advance(milliseconds=1)
    claims = jwt.decode(
        security.issue_access_token(harness.settings.secret, user_id, "developer", 300),
        options={"verify_signature": False},
    )
    claims["iat"] = int(claims["iat"])
    token = jwt.encode(claims, harness.settings.secret, algorithm=security.ALGORITHM)
    me = await harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


async def test_deactivated_user__cannot_use_token(harness: Harness) -> None:
    headers, user_id = await harness.user("viewer", "v@example.com")
    off = await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=await harness.admin()
    )
    assert off.status_code == 200
    response = await harness.client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"login_rate_limit": "3/minute"}])
async def test_repeated_bad_logins__429_with_retry_after(harness: Harness) -> None:
    codes = []
    for _ in range(5):
        response = await harness.client.post(
            "/api/v1/auth/token", data={"username": "x@example.com", "password": "nope"}
        )
        codes.append(response.status_code)
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"


# --- OIDC: a key pair and a JWKS generated here; the issuer's HTTP endpoint is mocked (outside world) ---


def _oidc_setup() -> tuple[Any, dict[str, Any]]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk |= {"kid": "k1", "use": "sig", "alg": "RS256"}
    return key, {"keys": [jwk]}


async def test_oidc__valid_token__provisions_user_with_mapped_role(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    import shutil

    import httpx

    from experimently.auth.oidc import OidcVerifier

    key, jwks = _oidc_setup()
    issuer = "https://idp.example.com"
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    async with start_harness(
        "sqlite",
        tmp_path,
        oidc_issuer=issuer,
        oidc_audience="experimently",
        oidc_role_map="eng=developer,admins=admin",
    ) as h:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
        h.runtime.oidc = OidcVerifier(h.settings, transport=transport)
        import time

        claims = {
            "iss": issuer,
            "aud": "experimently",
            "sub": "abc",
            "email": "Ann@Example.com",
            "groups": ["eng"],
            "exp": int(time.time()) + 300,
        }
        good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        me = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {good}"})
        assert me.status_code == 200, me.text
        assert me.json()["data"]["email"] == "ann@example.com" and me.json()["data"]["role"] == "developer"
        for bad_claims in ({**claims, "aud": "other"}, {**claims, "exp": int(time.time()) - 10}):
            bad = jwt.encode(bad_claims, key, algorithm="RS256", headers={"kid": "k1"})
            response = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401
        other_key, _ = _oidc_setup()
        forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"})
        response = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401


async def test_failed_login__unknown_account__only_a_digest_in_the_trail(harness: Harness) -> None:
    await harness.client.post("/api/v1/auth/token", data={"username": "hunter2-typed-here", "password": "x"})
    record = (await harness.audit(action="auth.login_failed"))[0]
    assert record["actor_label"].startswith("unknown:") and "hunter2" not in str(record)


async def test_oidc__email_of_a_local_account__refused_not_linked(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    import shutil
    import time

    import httpx

    from experimently.auth.oidc import OidcVerifier

    key, jwks = _oidc_setup()
    issuer = "https://idp.example.com/"
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    async with start_harness("sqlite", tmp_path, oidc_issuer=issuer, oidc_audience="experimently") as h:
        h.runtime.oidc = OidcVerifier(
            h.settings, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks))
        )
        claims = {
            "iss": issuer,
            "aud": "experimently",
            "sub": "evil",
            "email": ADMIN_EMAIL,
            "exp": int(time.time()) + 300,
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        response = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "local account" in response.json()["error"]["message"]
        # the same address written otherwise: a trailing space, capitals, both (the space passed, and
        # the account looked like the admin's in the audit trail)
        for spelling in (ADMIN_EMAIL + " ", " " + ADMIN_EMAIL.upper(), ADMIN_EMAIL + "\t"):
            token = jwt.encode(
                {**claims, "sub": f"evil-{len(spelling)}", "email": spelling},
                key,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            response = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401 and "local account" in response.json()["error"]["message"], (
                spelling
            )
        # a claim that is no address: the subject at the issuer's host (without its port) instead
        for not_an_address in ("not an email", "admin@", 42):
            token = jwt.encode(
                {**claims, "sub": "nomail", "email": not_an_address},
                key,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            me = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["data"]["email"] == "nomail@idp.example.com", me.text


async def test_own_account_endpoints__refuse_api_keys_with_403(harness: Harness) -> None:
    """An API key asking for "its" account got 404 "user '<key id>' not found", and ending "its"
    sessions answered 200 and audited a revocation for a user that does not exist."""
    key = await harness.api_key(["evaluate", "track", "manage"])
    calls = [
        ("GET", "/api/v1/auth/me", None),
        (
            "POST",
            "/api/v1/auth/password",
            {"current_password": "x", "new_password": "a-much-better-password"},
        ),
        ("POST", "/api/v1/auth/logout", {"refresh_token": "0123456789abcdef"}),
        ("GET", "/api/v1/auth/mfa", None),
        ("POST", "/api/v1/auth/mfa/enrol", None),
        ("POST", "/api/v1/auth/mfa/confirm", {"code": "123456"}),
        ("POST", "/api/v1/auth/mfa/disable", {"code": "123456"}),
        ("POST", "/api/v1/auth/mfa/recovery-codes", {"code": "123456"}),
        ("GET", "/api/beta/sessions", None),
        ("DELETE", "/api/beta/sessions", None),
        ("DELETE", "/api/beta/sessions/abc", None),
    ]
    for method, path, body in calls:
        response = await harness.client.request(method, path, json=body, headers=key)
        assert response.status_code == 403, (path, response.status_code, response.text)
        assert "not with an API key" in response.json()["error"]["message"]
    assert await harness.audit(action="auth.sessions_revoked") == []
    # a person still reaches them
    me = await harness.client.get("/api/v1/auth/me", headers=await harness.admin())
    assert me.status_code == 200


async def test_admin__cannot_deactivate_or_demote_themselves__error_names_the_field(harness: Harness) -> None:
    admin = await harness.admin()
    me = (await harness.client.get("/api/v1/auth/me", headers=admin)).json()["data"]
    for body, path in (({"is_active": False}, "is_active"), ({"role": "viewer"}, "role")):
        refused = await harness.client.patch(f"/api/v1/users/{me['id']}", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["errors"][0]["path"] == path
