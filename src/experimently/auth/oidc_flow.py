"""Browser sign-in through the OIDC issuer: authorization code with PKCE (RFC 7636).

``start`` sends the browser to the issuer with a random ``state`` and the S256 challenge of a random
verifier; both are kept in a short-lived, signed, httpOnly cookie (no server-side storage). ``finish``
checks the state, trades the code and the verifier for tokens at the issuer's token endpoint, verifies
the access token exactly as the API verifies an OIDC bearer token (issuer, audience, signature from the
JWKS), provisions the account the same way, and opens a console session (a refresh-token family of the
token service, carried by the session cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from experimently import audit
from experimently.auth.deps import provision
from experimently.auth.oidc import OidcVerifier
from experimently.auth.schemas import TokenResponse
from experimently.auth.service import Client, issue_tokens, user_actor
from experimently.config import Settings
from experimently.db import Database
from experimently.errors import AuthenticationRequired, ErrorCode, NotFound, ServiceUnavailable
from experimently.kit.ids import new_id

FLOW_COOKIE = "experimently_oidc"
FLOW_COOKIE_PATH = "/api/v1/auth/oidc"
FLOW_TTL_SECONDS = 600


def enabled(settings: Settings, oidc: OidcVerifier | None) -> bool:
    return oidc is not None and bool(settings.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + "/api/v1/auth/oidc/callback"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(settings: Settings, text: str) -> str:
    return hmac.new(settings.secret.encode(), b"oidc-flow:" + text.encode(), hashlib.sha256).hexdigest()


async def _discovery(oidc: OidcVerifier) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(transport=oidc.transport, timeout=5.0) as http:
            response = await http.get(f"{oidc.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        raise ServiceUnavailable("the identity provider is unreachable", retry_after=5) from None
    return document


async def start(settings: Settings, oidc: OidcVerifier | None) -> tuple[str, str]:
    """The issuer's authorization URL and the flow cookie's value."""
    if oidc is None or not settings.oidc_client_id:
        raise NotFound("oidc", "configuration")
    document = await _discovery(oidc)
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(64)
    query = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": redirect_uri(settings),
        "scope": settings.oidc_scopes,
        "state": state,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    cookie = f"{state}.{verifier}"
    return f"{document['authorization_endpoint']}?{urlencode(query)}", f"{cookie}.{_sign(settings, cookie)}"


def _flow(settings: Settings, cookie: str | None, state: str) -> str:
    """The verifier of a flow whose cookie is authentic and whose state matches."""
    parts = (cookie or "").split(".")
    if len(parts) != 3:
        raise AuthenticationRequired("sign-in expired; start again", code=ErrorCode.TOKEN_INVALID)
    saved_state, verifier, signature = parts
    genuine = hmac.compare_digest(signature, _sign(settings, f"{saved_state}.{verifier}"))
    if not genuine or not hmac.compare_digest(saved_state, state):
        raise AuthenticationRequired("sign-in state does not match", code=ErrorCode.TOKEN_INVALID)
    return verifier


async def finish(
    db: Database,
    settings: Settings,
    oidc: OidcVerifier | None,
    code: str,
    state: str,
    cookie: str | None,
    client: Client,
) -> TokenResponse:
    if oidc is None or not settings.oidc_client_id:
        raise NotFound("oidc", "configuration")
    verifier = _flow(settings, cookie, state)
    document = await _discovery(oidc)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(settings),
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    if settings.oidc_client_secret is not None:
        form["client_secret"] = settings.oidc_client_secret.get_secret_value()
    try:
        async with httpx.AsyncClient(transport=oidc.transport, timeout=5.0) as http:
            response = await http.post(str(document["token_endpoint"]), data=form)
    except httpx.HTTPError:
        raise ServiceUnavailable("the identity provider is unreachable", retry_after=5) from None
    if response.status_code != 200:
        raise AuthenticationRequired("the identity provider refused the code", code=ErrorCode.TOKEN_INVALID)
    token = str(response.json().get("access_token", ""))
    try:
        identity = await oidc.verify(token)
    except (jwt.InvalidTokenError, httpx.HTTPError, ValueError) as exc:
        raise AuthenticationRequired(
            f"identity token rejected: {exc}", code=ErrorCode.TOKEN_INVALID
        ) from None
    async with db.transaction() as session:
        user = await provision(session, identity)
        if not user.is_active:
            raise AuthenticationRequired("account inactive", code=ErrorCode.TOKEN_INVALID)
        audit.record(session, user_actor(user), "auth.login", "user", user.id, reason="oidc")
        return await issue_tokens(session, settings, user, new_id(), client)
