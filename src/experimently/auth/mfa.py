"""TOTP second factor (RFC 6238, on ``pyotp``) for local accounts; OIDC accounts rely on their issuer.

Enrolment: ``enrol`` stores a fresh seed (encrypted with the key ring) and returns the otpauth URI and
its QR code (``segno``, an SVG data URI); ``confirm`` with a first code switches MFA on and returns ten
one-time recovery codes (stored as SHA-256 digests: 80 random bits each, nothing to brute-force).

A code is accepted for its 30-second step and one step either side (clock drift), and only for a step
later than the last one accepted: one conditional UPDATE, so a code replayed inside its window, or
presented twice at the same moment, is refused. A recovery code is spent by a conditional UPDATE too.
Every attempt counts against ``MFA_RATE_LIMIT`` per account."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import jwt
import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor, Role
from experimently.auth import repository, security
from experimently.auth.mfa_models import MfaRecoveryCode, UserMfa
from experimently.auth.models import User
from experimently.config import Settings
from experimently.encryption.keyring import KeyRing
from experimently.errors import AuthenticationRequired, Conflict, ErrorCode, NotFound, ValidationFailed
from experimently.kit.clock import now
from experimently.ratelimit import RateLimiter
from experimently.rbac import Permission, require

RECOVERY_CODES = 10
DRIFT_STEPS = 1
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class MfaRequired(AuthenticationRequired):
    """The password was right; the second step is ``POST /auth/token/mfa`` with this token."""

    def __init__(self, mfa_token: str) -> None:
        super().__init__(
            "a second factor is required: POST /api/v1/auth/token/mfa with mfa_token and a code",
            code=ErrorCode.MFA_REQUIRED,
        )
        self.details = {
            "mfa_token": mfa_token,
            "expires_in": security.MFA_TOKEN_TTL_SECONDS,
            "methods": ["totp", "recovery_code"],
        }


def policy_requires(settings: Settings, user: User) -> bool:
    """Whether ``MFA_REQUIRED`` applies to this account (local accounts only)."""
    if user.external_subject is not None:
        return False
    return settings.mfa_required == "everyone" or (
        settings.mfa_required == "admins" and user.role == Role.ADMIN
    )


def _digest(code: str) -> str:
    return security.sha256(code.replace("-", "").replace(" ", "").upper())


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_B32) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


async def _local_user(session: AsyncSession, actor: Actor) -> User:
    user = await session.get(User, actor.id)
    if user is None:
        raise NotFound("user", actor.id)
    if user.external_subject is not None or user.password_hash is None:
        raise ValidationFailed(
            "this account signs in through the identity provider, whose MFA applies",
            [{"path": "account", "message": "OIDC accounts rely on their issuer's MFA"}],
        )
    return user


def _totp(seed: str, settings: Settings, email: str) -> pyotp.TOTP:
    return pyotp.TOTP(seed, name=email, issuer=settings.mfa_issuer)


async def enrol(session: AsyncSession, settings: Settings, keyring: KeyRing, actor: Actor) -> dict[str, Any]:
    """Start (or restart) enrolment: a new seed, pending until confirmed by a first code."""
    user = await _local_user(session, actor)
    if user.mfa_enabled:
        raise Conflict("MFA is already on; disable it first to enrol a new device")
    seed = pyotp.random_base32()
    await repository.delete_mfa(session, user.id)
    session.add(UserMfa(user_id=user.id, secret=keyring.encrypt(seed), created_at=now()))
    uri = _totp(seed, settings, user.email).provisioning_uri()
    audit.record(session, actor, "user.mfa_enrolment_started", "user", user.id)
    return {
        "otpauth_uri": uri,
        "secret": seed,
        "qr_svg": _segno().make(uri, error="m").svg_data_uri(scale=4),
    }


async def _check_totp(
    session: AsyncSession, settings: Settings, keyring: KeyRing, row: UserMfa, email: str, code: str
) -> bool:
    code = code.strip()
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = _totp(keyring.decrypt(row.secret), settings, email)
    current = totp.timecode(now())
    matched = next(
        (
            step
            for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
            if hmac.compare_digest(totp.generate_otp(step), code)
        ),
        None,
    )
    if matched is None:
        return False
    return await repository.claim_totp_step(session, row.user_id, matched)


async def _spend_recovery_code(session: AsyncSession, user_id: str, code: str) -> bool:
    return await repository.spend_recovery_code(session, user_id, _digest(code))


async def second_factor(
    session: AsyncSession,
    settings: Settings,
    keyring: KeyRing,
    limiter: RateLimiter,
    user: User,
    code: str,
    *,
    confirmed: bool = True,
) -> str | None:
    """Which second factor ``code`` is, once checked and spent: ``"totp"`` or ``"recovery_code"``;
    None when it is neither. Counted against the per-account limit."""
    await limiter.hit(settings.mfa_rate_limit, "mfa", user.id)
    row = await session.get(UserMfa, user.id)
    if row is None or (row.confirmed_at is not None) != confirmed:
        return None
    if await _check_totp(session, settings, keyring, row, user.email, code):
        return "totp"
    return "recovery_code" if confirmed and await _spend_recovery_code(session, user.id, code) else None


async def _replace_recovery_codes(session: AsyncSession, user_id: str) -> list[str]:
    await repository.delete_recovery_codes(session, user_id)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(MfaRecoveryCode(user_id=user_id, code_hash=_digest(c)) for c in codes)
    return codes


def _wrong_code() -> AuthenticationRequired:
    return AuthenticationRequired(
        "the code is wrong, expired or already used", code=ErrorCode.INVALID_CREDENTIALS
    )


async def confirm(
    session: AsyncSession,
    settings: Settings,
    keyring: KeyRing,
    limiter: RateLimiter,
    actor: Actor,
    code: str,
) -> list[str]:
    """Switch MFA on with a first code from the device; returns the recovery codes (shown once)."""
    user = await _local_user(session, actor)
    if user.mfa_enabled:
        raise Conflict("MFA is already on")
    if await session.get(UserMfa, user.id) is None:
        raise Conflict("no enrolment in progress: POST /api/v1/auth/mfa/enrol first")
    if await second_factor(session, settings, keyring, limiter, user, code, confirmed=False) is None:
        raise _wrong_code()
    row = await session.get(UserMfa, user.id)
    assert row is not None
    row.confirmed_at = now()
    user.mfa_enabled = True
    codes = await _replace_recovery_codes(session, user.id)
    _record_switch(session, actor, user, on=True)
    return codes


async def disable(
    session: AsyncSession, settings: Settings, keyring: KeyRing, limiter: RateLimiter, actor: Actor, code: str
) -> None:
    """Switch MFA off; needs a current code or an unused recovery code."""
    user = await _local_user(session, actor)
    if not user.mfa_enabled:
        raise Conflict("MFA is not on")
    if await second_factor(session, settings, keyring, limiter, user, code) is None:
        raise _wrong_code()
    await _clear(session, user)
    _record_switch(session, actor, user, on=False)


def _record_switch(session: AsyncSession, actor: Actor, user: User, *, on: bool) -> None:
    """``user.mfa_enabled`` / ``user.mfa_disabled``, naming the one field of the user as read they change."""
    action = "user.mfa_enabled" if on else "user.mfa_disabled"
    audit.record(
        session, actor, action, "user", user.id, before={"mfa_enabled": not on}, after={"mfa_enabled": on}
    )


async def regenerate_recovery_codes(
    session: AsyncSession, settings: Settings, keyring: KeyRing, limiter: RateLimiter, actor: Actor, code: str
) -> list[str]:
    """Ten new recovery codes (the old ones stop working); needs a current code."""
    user = await _local_user(session, actor)
    if not user.mfa_enabled:
        raise Conflict("MFA is not on")
    if await second_factor(session, settings, keyring, limiter, user, code) is None:
        raise _wrong_code()
    codes = await _replace_recovery_codes(session, user.id)
    audit.record(session, actor, "user.mfa_recovery_codes_regenerated", "user", user.id)
    return codes


async def status(session: AsyncSession, settings: Settings, actor: Actor) -> dict[str, Any]:
    user = await session.get(User, actor.id)
    if user is None:
        raise NotFound("user", actor.id)
    return {
        "enabled": user.mfa_enabled,
        "required": policy_requires(settings, user),
        "recovery_codes_left": await repository.recovery_codes_left(session, user.id)
        if user.mfa_enabled
        else 0,
        "managed_by_identity_provider": user.external_subject is not None,
    }


async def _clear(session: AsyncSession, user: User) -> None:
    await repository.delete_recovery_codes(session, user.id)
    await repository.delete_mfa(session, user.id)
    user.mfa_enabled = False


async def admin_reset(session: AsyncSession, actor: Actor, user_id: str) -> None:
    """An admin switches another account's MFA off (lost device); its sessions end. Audited."""
    require(actor, Permission.USERS_WRITE)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    if not user.mfa_enabled:  # nothing to reset: a 409 rather than an audited change of nothing
        raise Conflict(
            f"two-step sign-in is not on for {user.email}: nothing to reset", details={"mfa_enabled": False}
        )
    before = {"mfa_enabled": user.mfa_enabled}
    await _clear(session, user)
    await repository.revoke_user_tokens(session, user.id)
    audit.record(
        session, actor, "user.mfa_reset", "user", user.id, before=before, after={"mfa_enabled": False}
    )


async def second_step_user(
    session: AsyncSession,
    settings: Settings,
    keyring: KeyRing,
    limiter: RateLimiter,
    mfa_token: str,
    code: str,
) -> tuple[User, str | None]:
    """The account the MFA token names, and which second factor ``code`` is for it (None: neither).
    A token completes one sign-in: once a code is accepted it is spent (``repository.spend_mfa_token``,
    in the caller's transaction), and it is refused once any sign-in of the account completed after
    it was issued."""
    try:
        user_id, count = security.decode_mfa_token(settings.secret, mfa_token)
    except jwt.InvalidTokenError:
        user_id, count = "", -1
    user = await session.get(User, user_id) if user_id else None
    if (
        user is None
        or not user.is_active
        or not user.mfa_enabled
        or await repository.mfa_logins(session, user.id) != count
    ):
        raise _spent_token()
    method = await second_factor(session, settings, keyring, limiter, user, code)
    if method is not None and not await repository.spend_mfa_token(session, user.id, count):
        raise _spent_token()  # another request spent it first: the caller's transaction rolls back
    return user, method


def _spent_token() -> AuthenticationRequired:
    return AuthenticationRequired(
        "MFA token invalid, expired or already used: log in again", code=ErrorCode.TOKEN_INVALID
    )


def _segno() -> Any:
    """segno, imported on the first enrolment rather than at start-up."""
    import segno

    return segno
