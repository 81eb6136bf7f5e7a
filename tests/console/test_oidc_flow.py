"""The console's OIDC sign-in (authorization code with PKCE) against a fake issuer (the identity
provider is the outside world: its HTTP endpoints are mocked, our storage and token service are real)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from experimently.auth.oidc import OidcVerifier
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, FakeClock, Harness, start_harness

ISSUER = "https://idp.example.com"


class FakeIssuer:
    """Discovery, an authorization code bound to its PKCE challenge, a token endpoint, a JWKS."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.codes: dict[str, str] = {}  # code -> challenge
        self.token_requests: list[dict[str, list[str]]] = []

    def authorize(self, url: str) -> str:
        """The person signs in at the issuer: a code for the request's challenge."""
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        code = f"code-{len(self.codes)}"
        self.codes[code] = query["code_challenge"][0]
        return code

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
                },
            )
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks)
        if request.url.path == "/token":
            form = parse_qs(request.content.decode())
            self.token_requests.append(form)
            challenge = self.codes.pop(form["code"][0], None)
            digest = hashlib.sha256(form["code_verifier"][0].encode()).digest()
            if challenge != base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
                return httpx.Response(400, json={"error": "invalid_grant"})
            claims = {
                "iss": ISSUER,
                "aud": "experimently",
                "sub": "ext-42",
                "email": "ann@example.com",
                "groups": ["eng"],
                "exp": int(time.time()) + 300,
            }
            token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
            return httpx.Response(200, json={"access_token": token, "token_type": "Bearer"})
        return httpx.Response(404)


@pytest.fixture
async def oidc(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[tuple[Harness, FakeIssuer]]:
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    issuer = FakeIssuer()
    async with start_harness(
        "sqlite",
        tmp_path,
        oidc_issuer=ISSUER,
        oidc_audience="experimently",
        oidc_client_id="console",
        oidc_role_map="eng=developer",
        cookie_secure=False,
        public_url="http://testserver",
    ) as h:
        h.runtime.oidc = OidcVerifier(h.settings, transport=httpx.MockTransport(issuer.handle))
        yield h, issuer


async def _start(h: Harness) -> tuple[str, dict[str, Any]]:
    response = await h.client.get("/api/v1/auth/oidc/start")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_oidc_sign_in__code_with_pkce__opens_a_console_session(
    oidc: tuple[Harness, FakeIssuer],
) -> None:
    h, issuer = oidc
    assert (await h.client.get("/api/v1/auth/oidc/config")).json()["data"] == {"enabled": True}
    # Given the browser is sent to the issuer with a state and an S256 challenge
    location, query = await _start(h)
    assert location.startswith(f"{ISSUER}/authorize?")
    assert (
        query["client_id"] == "console"
        and query["redirect_uri"] == "http://testserver/api/v1/auth/oidc/callback"
    )
    code = issuer.authorize(location)
    # When the issuer redirects back with the code
    callback = await h.client.get(
        "/api/v1/auth/oidc/callback", params={"code": code, "state": query["state"]}
    )
    # Then a console session is open: the cookie refresh gives an access token for the provisioned person
    assert callback.status_code == 303 and callback.headers["location"] == "/"
    csrf = h.client.cookies.get("experimently_csrf")
    assert csrf is not None
    refreshed = await h.client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, refreshed.text
    me = await h.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert me.json()["data"]["email"] == "ann@example.com" and me.json()["data"]["role"] == "developer"
    assert "code_verifier" in issuer.token_requests[0]
    assert "oidc" in [a["reason"] for a in await h.audit(action="auth.login")]


async def test_oidc_callback__wrong_state__refused(oidc: tuple[Harness, FakeIssuer]) -> None:
    h, issuer = oidc
    location, _ = await _start(h)
    code = issuer.authorize(location)
    response = await h.client.get("/api/v1/auth/oidc/callback", params={"code": code, "state": "forged"})
    assert response.status_code == 401
    assert issuer.token_requests == []  # the code was never traded


async def test_oidc_callback__without_the_flow_cookie__refused(oidc: tuple[Harness, FakeIssuer]) -> None:
    h, issuer = oidc
    location, query = await _start(h)
    code = issuer.authorize(location)
    h.client.cookies.clear()  # another browser (a login CSRF attempt) has no flow cookie
    response = await h.client.get(
        "/api/v1/auth/oidc/callback", params={"code": code, "state": query["state"]}
    )
    assert response.status_code == 401


async def test_oidc_callback__code_of_another_flow__issuer_refuses_the_verifier(
    oidc: tuple[Harness, FakeIssuer],
) -> None:
    h, issuer = oidc
    first, _ = await _start(h)
    stolen = issuer.authorize(first)  # a code issued for another challenge
    _, query = await _start(h)
    response = await h.client.get(
        "/api/v1/auth/oidc/callback", params={"code": stolen, "state": query["state"]}
    )
    assert response.status_code == 401
    assert h.client.cookies.get("experimently_refresh") is None


async def test_oidc__not_configured__404_and_disabled(harness: Harness) -> None:
    assert (await harness.client.get("/api/v1/auth/oidc/config")).json()["data"] == {"enabled": False}
    assert (await harness.client.get("/api/v1/auth/oidc/start")).status_code == 404


async def test_oidc_console_session__ends_after_its_maximum__sign_in_at_the_issuer_again(
    oidc: tuple[Harness, FakeIssuer], fake_clock: FakeClock
) -> None:
    # The role is read from the issuer at sign-in only, and refreshes never ask it again: without an
    # end, a person demoted or removed there kept the console for as long as they kept refreshing
    h, issuer = oidc
    location, query = await _start(h)
    code = issuer.authorize(location)
    callback = await h.client.get(
        "/api/v1/auth/oidc/callback", params={"code": code, "state": query["state"]}
    )
    assert callback.status_code == 303

    def refresh() -> dict[str, str]:  # the CSRF cookie of the moment (each refresh renews it)
        return {"X-CSRF-Token": h.client.cookies.get("experimently_csrf") or ""}

    # refreshed within the maximum (8 hours by default): the session goes on
    fake_clock.advance(hours=7)
    assert (await h.client.post("/api/v1/auth/session/refresh", headers=refresh())).status_code == 200
    # past it, however recently refreshed: it ends, and the trail says why
    fake_clock.advance(hours=1, minutes=5)
    ended = await h.client.post("/api/v1/auth/session/refresh", headers=refresh())
    assert ended.status_code == 401, ended.text
    [record] = await h.audit(action="auth.session_expired")
    assert record["reason"] == "oidc"
    # a local account's session has no such end (its refresh token's own lifetime applies)
    tokens = (
        await h.client.post("/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    ).json()
    fake_clock.advance(hours=9)
    kept = await h.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert kept.status_code == 200, kept.text
