"""Login, token refresh with rotation, logout, password change and user administration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor, ActorKind, Role
from experimently.auth import mfa, repository, security
from experimently.auth.keys import NAMESPACE as API_KEY_NAMESPACE
from experimently.auth.mfa import MfaRequired
from experimently.auth.models import RefreshToken, User
from experimently.auth.passwords import check_strength
from experimently.auth.schemas import (
    PasswordChange,
    TokenResponse,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)
from experimently.cache import Cache
from experimently.config import Settings
from experimently.db import Database
from experimently.encryption.keyring import KeyRing
from experimently.errors import AuthenticationRequired, Conflict, ErrorCode, NotFound, ValidationFailed
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.ratelimit import RateLimiter
from experimently.rbac import Permission, require
from experimently.webhooks.announce import announce

PEOPLE = "/admin/people"  # the console page of users


def user_snapshot(user: User) -> dict[str, Any]:
    """The account as the API shows it; the last login is not part of a change."""
    return audit.snapshot(UserRead, user, volatile=("id", "created_at", "last_login_at"))


def user_actor(user: User, session_id: str | None = None) -> Actor:
    return Actor(
        kind=ActorKind.USER, id=user.id, label=user.email, role=Role(user.role), session_id=session_id
    )


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await repository.user_by_email(session, email.strip().lower())


@dataclass(frozen=True, slots=True)
class Client:
    """Where a login or refresh comes from, kept on the session it starts or continues."""

    ip: str = "unknown"
    user_agent: str = ""


async def login(
    db: Database,
    settings: Settings,
    limiter: RateLimiter,
    email: str,
    password: str,
    client: Client | str,
) -> TokenResponse:
    """Check credentials under a per-IP and per-account rate limit; a failure is audited in its own
    transaction (it must survive the 401). ``client`` may be the bare IP. With MFA on, the answer is
    :class:`MfaRequired` (401 ``MFA_REQUIRED``) carrying the token of the second step."""
    client = Client(ip=client) if isinstance(client, str) else client
    await limiter.hit(settings.login_rate_limit, "login-ip", client.ip)
    await limiter.hit(settings.login_rate_limit, "login-account", email.strip().lower())
    challenge: str | None = None
    async with db.transaction() as session:
        user = await find_user_by_email(session, email)
        valid = security.verify_password(user.password_hash if user else None, password)
        if user is not None and valid and user.is_active and user.mfa_enabled:
            logins = await repository.mfa_logins(session, user.id)
            challenge = security.issue_mfa_token(settings.secret, user.id, logins)
        elif user is not None and valid and user.is_active:
            user.last_login_at = now()
            audit.record(session, user_actor(user), "auth.login", "user", user.id)
            return await issue_tokens(session, settings, user, new_id(), client)
        if challenge is None:
            _audit_failure(session, user, email, valid)
    if challenge is not None:
        raise MfaRequired(challenge)
    raise AuthenticationRequired("invalid email or password", code=ErrorCode.INVALID_CREDENTIALS)


def _audit_failure(session: AsyncSession, user: User | None, email: str, valid: bool) -> None:
    # an unknown "email" may be a mistyped password: keep only a digest of it in the trail
    label = user.email if user else "unknown:" + security.sha256(email.strip().lower())[:16]
    failed = Actor(kind=ActorKind.USER, id=user.id if user else "unknown", label=label)
    reason = "inactive" if user is not None and valid else "bad_credentials"
    audit.record(session, failed, "auth.login_failed", "user", user.id if user else None, reason=reason)


async def login_mfa(
    db: Database,
    settings: Settings,
    keyring: KeyRing,
    limiter: RateLimiter,
    mfa_token: str,
    code: str,
    client: Client,
) -> TokenResponse:
    """The second login step: the MFA token from the first and a TOTP or recovery code. A wrong code
    is audited in its own transaction (it must survive the 401)."""
    async with db.transaction() as session:
        user, method = await mfa.second_step_user(session, settings, keyring, limiter, mfa_token, code)
        if method is not None:
            user.last_login_at = now()
            # "mfa" (a TOTP code) or "mfa_recovery_code": an auditor sees when a recovery code was used
            reason = "mfa" if method == "totp" else "mfa_recovery_code"
            audit.record(session, user_actor(user), "auth.login", "user", user.id, reason=reason)
            return await issue_tokens(session, settings, user, new_id(), client)
        failed = Actor(kind=ActorKind.USER, id=user.id, label=user.email)
        audit.record(session, failed, "auth.login_failed", "user", user.id, reason="mfa_code")
    raise AuthenticationRequired(
        "the code is wrong, expired or already used", code=ErrorCode.INVALID_CREDENTIALS
    )


async def issue_tokens(
    session: AsyncSession, settings: Settings, user: User, family_id: str, client: Client
) -> TokenResponse:
    """A new refresh token in the family (the session) and an access token naming it (``sid``)."""
    refresh = security.generate_refresh_token()
    moment = now()
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.sha256(refresh),
            family_id=family_id,
            created_at=moment,
            expires_at=moment + timedelta(seconds=settings.refresh_token_ttl_seconds),
            ip=client.ip[:64],
            user_agent=client.user_agent[:300],
        )
    )
    access = security.issue_access_token(
        settings.secret, user.id, user.role, settings.access_token_ttl_seconds, session_id=family_id
    )
    return TokenResponse(
        access_token=access, expires_in=settings.access_token_ttl_seconds, refresh_token=refresh
    )


async def refresh(
    db: Database, settings: Settings, token: str, client: Client | None = None
) -> TokenResponse:
    """Rotate: the old refresh token is revoked and a new one issued in the same family. Reusing a
    revoked token revokes the whole family (a stolen token is worth nothing after one use).

    The revocation is one conditional UPDATE, the first statement of the transaction: of N concurrent
    presenters of one token exactly one sees a row come back and wins; the others find the token
    revoked, which is a reuse, and revoke the family (the winner's new token included). On PostgreSQL
    the losers' UPDATE waits on the winner's row lock; on SQLite the first write takes the database
    write lock (no read snapshot is held before it, so no stale-snapshot error)."""
    digest = security.sha256(token)
    moment = now()
    async with db.transaction() as session:
        won = await repository.claim_refresh_token(session, digest, moment)
        if won is None:
            row = await repository.token_by_hash(session, digest)
            # a revoked token while its session lives on is a rotated one presented again: two holders
            # of one session, one of them a thief. A token of a session that ended (signed out, ended
            # from another device, a password change) is refused without raising that alarm.
            if (
                row is not None
                and row.revoked_at is not None
                and await repository.family_live(session, row.family_id, moment)
            ):
                await _revoke_family(session, row.family_id)
                audit.record(session, SYSTEM, "auth.refresh_reuse_detected", "user", row.user_id)
        else:
            user_id, family_id, last_used = won
            idle = settings.session_idle_timeout_seconds
            user = await session.get(User, user_id)
            if idle and (moment - last_used).total_seconds() > idle:
                await _revoke_family(session, family_id)
                audit.record(session, SYSTEM, "auth.session_idle_expired", "user", user_id)
            elif (
                user is not None
                and user.external_subject is not None
                and await _sso_session_over(session, settings, family_id, moment)
            ):
                # the issuer decides again who this is and what they may do: sign in there
                await _revoke_family(session, family_id)
                audit.record(session, SYSTEM, "auth.session_expired", "user", user_id, reason="oidc")
            elif user is not None and user.is_active:
                return await issue_tokens(session, settings, user, family_id, client or Client())
    raise AuthenticationRequired("refresh token is invalid, expired or revoked", code=ErrorCode.TOKEN_INVALID)


async def _sso_session_over(
    session: AsyncSession, settings: Settings, family_id: str, moment: datetime
) -> bool:
    """Whether a console session opened through the identity provider has lasted its
    ``OIDC_SESSION_MAX_SECONDS`` (refreshes included)."""
    started = (await repository.family_starts(session, [family_id])).get(family_id)
    return started is not None and (moment - started).total_seconds() > settings.oidc_session_max_seconds


async def _revoke_family(session: AsyncSession, family_id: str) -> None:
    await repository.revoke_family(session, family_id)


async def logout(session: AsyncSession, actor: Actor, token: str) -> None:
    row = await repository.token_by_hash(session, security.sha256(token))
    if row is None or row.user_id != actor.id:
        raise NotFound("refresh_token", "given")
    await _revoke_family(session, row.family_id)
    audit.record(session, actor, "auth.logout", "user", actor.id)


async def change_password(
    session: AsyncSession, settings: Settings, actor: Actor, body: PasswordChange
) -> None:
    user = await session.get(User, actor.id)
    if user is None or not security.verify_password(user.password_hash, body.current_password):
        raise AuthenticationRequired("current password is wrong", code=ErrorCode.INVALID_CREDENTIALS)
    if body.new_password == body.current_password:  # a "change" that signs every session out for nothing
        raise ValidationFailed(
            "the new password is the current one",
            [{"path": "new_password", "message": "must differ from the current password"}],
        )
    check_strength(body.new_password, user.email, min_score=settings.password_min_score, path="new_password")
    user.password_hash = security.hash_password(body.new_password)
    user.password_changed_at = now()
    await repository.revoke_user_tokens(session, user.id)
    audit.record(session, actor, "user.password_changed", "user", user.id)


async def create_user(
    session: AsyncSession, actor: Actor, body: UserCreate, *, min_score: int = 3
) -> UserCreated:
    require(actor, Permission.USERS_WRITE)
    email = str(body.email).lower()
    if await find_user_by_email(session, email) is not None:
        raise Conflict(f"a user with email '{email}' exists", details={"email": email})
    if body.password is not None:
        check_strength(body.password, email, min_score=min_score)
    password = body.password or security.generate_password()
    user = User(
        email=email,
        role=body.role,
        password_hash=security.hash_password(password),
        is_active=True,
        created_at=now(),
    )
    session.add(user)
    await session.flush()
    audit.record(session, actor, "user.created", "user", user.id, after=user_snapshot(user))
    announce(session, "user.created", actor, "user", user.id, after=user_snapshot(user), path=PEOPLE)
    read = UserRead.model_validate(user)
    return UserCreated(**read.model_dump(), password=None if body.password else password)


async def update_user(
    session: AsyncSession, actor: Actor, user_id: str, body: UserUpdate, cache: Cache | None = None
) -> UserRead:
    require(actor, Permission.USERS_WRITE)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    if user.id == actor.id and (body.is_active is False or (body.role and body.role != Role.ADMIN)):
        raise ValidationFailed(
            "admins cannot demote or deactivate themselves",
            [
                {
                    "path": "is_active" if body.is_active is False else "role",
                    "message": "would lock out the acting admin",
                }
            ],
        )
    leaves = body.is_active is False or (body.role is not None and body.role != Role.ADMIN)
    last = leaves and user.is_active and user.role == Role.ADMIN
    if last and not await repository.another_active_admin(session, user.id):
        # what the rule above keeps an admin from doing to themselves, nobody does to the last one (the
        # CLI, as cli:<login>, is not that account): with no active admin, accounts, keys and settings
        # are out of everyone's reach until someone runs the CLI
        raise Conflict(
            f"{user.email} is the last active admin: make another account admin first",
            details={"user_id": user.id},
        )
    before = user_snapshot(user)
    if body.email is not None and str(body.email).lower() != user.email:
        email = str(body.email).lower()
        if await find_user_by_email(session, email) is not None:
            raise Conflict(f"a user with email '{email}' exists", details={"email": email})
        user.email = email
    if body.role is not None:
        user.role = body.role
    if body.is_active is not None:
        user.is_active = body.is_active
        if not body.is_active:
            await repository.revoke_user_tokens(session, user.id)
        if cache is not None:  # the account's API keys stop (or resume) with it, on every instance
            cache.invalidate_on_commit(session, API_KEY_NAMESPACE)
    after = user_snapshot(user)
    if after != before:  # a request that changes nothing is no change to record
        audit.record(session, actor, "user.updated", "user", user.id, before=before, after=after)
    if before.get("role") != after.get("role"):
        announce(
            session, "user.role_changed", actor, "user", user.id, before=before, after=after, path=PEOPLE
        )
    if before.get("is_active") and not after.get("is_active"):
        announce(session, "user.deactivated", actor, "user", user.id, before=before, after=after, path=PEOPLE)
    return UserRead.model_validate(user)


async def list_users(session: AsyncSession, actor: Actor) -> list[UserRead]:
    require(actor, Permission.USERS_READ)
    return [UserRead.model_validate(u) for u in await repository.all_users(session)]


async def ensure_admin(session: AsyncSession, email: str, password: str | None) -> str | None:
    """First start: create the admin account if no user exists. Returns a generated password, if any."""
    if await repository.any_user(session):
        return None
    generated = password is None
    secret = password or security.generate_password()
    user = User(
        email=email.lower(),
        role=Role.ADMIN,
        password_hash=security.hash_password(secret),
        is_active=True,
        created_at=now(),
    )
    session.add(user)
    await session.flush()
    audit.record(
        session, SYSTEM, "user.created", "user", user.id, after=user_snapshot(user), reason="bootstrap"
    )
    return secret if generated else None


async def reset_password(session: AsyncSession, actor: Actor, email: str) -> str:
    """An admin sets a new generated password for an account (a lost admin password, say): every
    refresh token of that account is revoked and the change is audited; the password is returned to
    be shown once."""
    require(actor, Permission.USERS_WRITE)
    user = await find_user_by_email(session, email.lower())
    if user is None:
        raise NotFound("user", email)
    password = security.generate_password()
    user.password_hash = security.hash_password(password)
    user.password_changed_at = now()
    await repository.revoke_user_tokens(session, user.id)
    audit.record(session, actor, "user.password_reset", "user", user.id)
    return password
