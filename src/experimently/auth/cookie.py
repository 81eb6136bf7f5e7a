"""The console's token transport: the refresh token rides in an httpOnly, SameSite=Strict cookie that
script cannot read; the access token is returned in the body and kept in memory by the browser.

A thin layer over the token service (``service.login``/``refresh``/``logout``): the same rotation
families, reuse detection and revocation apply. CSRF: a signed double-submit token. The ``csrf`` cookie
(readable by script, so a reloaded page can send it) must be echoed in the ``X-CSRF-Token`` header and
must be the HMAC of the refresh token under the server secret, so a cookie planted by a sibling
subdomain cannot be paired with a header of the attacker's choosing.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response

from experimently.auth.schemas import SessionToken, TokenResponse
from experimently.config import Settings
from experimently.errors import AuthenticationRequired, ErrorCode, PermissionDenied

REFRESH_COOKIE = "experimently_refresh"
CSRF_COOKIE = "experimently_csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/api/v1/auth/session"


def csrf_for(settings: Settings, refresh_token: str) -> str:
    return hmac.new(settings.secret.encode(), refresh_token.encode(), hashlib.sha256).hexdigest()[:40]


def set_session_cookies(response: Response, settings: Settings, tokens: TokenResponse) -> SessionToken:
    csrf = csrf_for(settings, tokens.refresh_token)
    age = settings.refresh_token_ttl_seconds
    secure = settings.cookie_secure
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=age,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, path="/", secure=secure, samesite="strict")
    return SessionToken(access_token=tokens.access_token, expires_in=tokens.expires_in, csrf_token=csrf)


def clear_session_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=settings.cookie_secure, httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=settings.cookie_secure)


def refresh_from_cookie(request: Request, settings: Settings) -> str:
    """The refresh token of the cookie, after the CSRF check (401 without a cookie, 403 on a bad
    header)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise AuthenticationRequired("no session cookie", code=ErrorCode.TOKEN_INVALID)
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_for(settings, token)
    if not (header and hmac.compare_digest(header, cookie) and hmac.compare_digest(header, expected)):
        raise PermissionDenied(
            "missing or wrong CSRF token", details={"header": CSRF_HEADER, "cookie": CSRF_COOKIE}
        )
    return token
