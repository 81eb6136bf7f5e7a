"""Auth primitives on well-kept libraries: argon2-cffi for passwords, PyJWT for tokens.

API keys and refresh tokens are 256-bit random strings, so a single SHA-256 is the right hash for them
(nothing to brute-force, and verification stays in microseconds on the evaluation hot path).
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from experimently.kit.clock import now
from experimently.kit.ids import new_id

ISSUER = "experimently"
ALGORITHM = "HS256"
API_KEY_PREFIX = "xp_"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the account does not exist, so timing does not reveal
    emails. Made on first use: one argon2 hash costs a noticeable part of a second at import."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def generate_refresh_token() -> str:
    return secrets.token_urlsafe(48)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    role: str
    token_id: str
    issued_at: datetime
    session_id: str | None = None


def issue_access_token(
    secret: str, user_id: str, role: str, ttl_seconds: int, *, session_id: str | None = None
) -> str:
    issued = now()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user_id,
        "role": role,
        "typ": "access",
        "jti": new_id(),
        # a NumericDate may carry a fraction (RFC 7519): microseconds, so that a token issued just
        # after a password change in the same second is told from one issued just before it
        "iat": round(issued.timestamp(), 6),
        "exp": int((issued + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> AccessClaims:
    """Verify signature, issuer, expiry and type; raises ``jwt.InvalidTokenError``."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False, "verify_iat": False},
    )
    for name in ("exp", "iat"):  # a validly signed token may still carry a non-numeric date
        value = claims[name]
        # and a date: beyond the year 9999 Python has no datetime for it
        if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value < _YEAR_10000:
            raise jwt.InvalidTokenError(f"claim {name!r} must be a number of seconds since 1970")
    if int(claims["exp"]) <= now().timestamp():  # checked on our clock, which tests control
        raise jwt.ExpiredSignatureError("token expired")
    if claims.get("typ") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return AccessClaims(
        subject=str(claims["sub"]),
        role=str(claims.get("role", "")),
        token_id=str(claims.get("jti", "")),
        issued_at=datetime.fromtimestamp(claims["iat"], tz=now().tzinfo),
        session_id=str(claims["sid"]) if claims.get("sid") else None,
    )


_YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00Z in seconds since 1970


def unverified_issuer(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    issuer = claims.get("iss")
    return str(issuer) if issuer is not None else None


MFA_TOKEN_TTL_SECONDS = 300


def issue_mfa_token(secret: str, user_id: str, logins: int) -> str:
    """The short-lived proof that the password step passed; only ``/auth/token/mfa`` accepts it, once:
    ``n`` is the account's count of completed two-step sign-ins, which the second step moves on."""
    issued = now()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user_id,
        "typ": "mfa",
        "n": logins,
        "jti": new_id(),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=MFA_TOKEN_TTL_SECONDS)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_mfa_token(secret: str, token: str) -> tuple[str, int]:
    """The user id and sign-in count of a valid, unexpired MFA token; raises ``jwt.InvalidTokenError``
    (also for a token issued before tokens carried the count)."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        options={"require": ["exp", "sub", "iss"], "verify_exp": False, "verify_iat": False},
    )
    if not isinstance(claims["exp"], int) or claims["exp"] <= now().timestamp():
        raise jwt.ExpiredSignatureError("MFA token expired")
    if claims.get("typ") != "mfa":
        raise jwt.InvalidTokenError("not an MFA token")
    count = claims.get("n")
    if not isinstance(count, int) or isinstance(count, bool):
        raise jwt.InvalidTokenError("MFA token without its sign-in count")
    return str(claims["sub"]), count
