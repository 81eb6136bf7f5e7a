"""Login, token refresh with rotation, logout, password change and user administration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor, ActorKind, Role
from experimently.auth import security
from experimently.auth.models import RefreshToken, User
from experimently.auth.schemas import (
    PasswordChange,
    TokenResponse,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)
from experimently.config import Settings
from experimently.db import Database
from experimently.errors import AuthenticationRequired, Conflict, ErrorCode, NotFound, ValidationFailed
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.ratelimit import RateLimiter
from experimently.rbac import Permission, require


def user_snapshot(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "is_active": user.is_active}


def user_actor(user: User) -> Actor:
    return Actor(kind=ActorKind.USER, id=user.id, label=user.email, role=Role(user.role))


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def login(
    db: Database, settings: Settings, limiter: RateLimiter, email: str, password: str, ip: str
) -> TokenResponse:
    """Check credentials under a per-IP and per-account rate limit; a failure is audited in its own
    transaction (it must survive the 401)."""
    await limiter.hit(settings.login_rate_limit, "login-ip", ip)
    await limiter.hit(settings.login_rate_limit, "login-account", email.strip().lower())
    async with db.transaction() as session:
        user = await find_user_by_email(session, email)
        valid = security.verify_password(user.password_hash if user else None, password)
        if user is not None and valid and user.is_active:
            user.last_login_at = now()
            audit.record(session, user_actor(user), "auth.login", "user", user.id)
            return await _issue_tokens(session, settings, user, family_id=new_id())
        # an unknown "email" may be a mistyped password: keep only a digest of it in the trail
        label = user.email if user else "unknown:" + security.sha256(email.strip().lower())[:16]
        failed = Actor(kind=ActorKind.USER, id=user.id if user else "unknown", label=label)
        reason = "inactive" if user is not None and valid else "bad_credentials"
        audit.record(session, failed, "auth.login_failed", "user", user.id if user else None, reason=reason)
    raise AuthenticationRequired("invalid email or password", code=ErrorCode.INVALID_CREDENTIALS)


async def _issue_tokens(
    session: AsyncSession, settings: Settings, user: User, family_id: str
) -> TokenResponse:
    refresh = security.generate_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.sha256(refresh),
            family_id=family_id,
            expires_at=now() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    access = security.issue_access_token(
        settings.secret, user.id, user.role, settings.access_token_ttl_seconds
    )
    return TokenResponse(
        access_token=access, expires_in=settings.access_token_ttl_seconds, refresh_token=refresh
    )


async def refresh(db: Database, settings: Settings, token: str) -> TokenResponse:
    """Rotate: the old refresh token is revoked and a new one issued in the same family. Reusing a
    revoked token revokes the whole family (a stolen token is worth nothing after one use)."""
    async with db.transaction() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == security.sha256(token))
        )
        if row is None or row.expires_at <= now():
            row = None
        elif row.revoked_at is not None:
            await _revoke_family(session, row.family_id)
            audit.record(session, SYSTEM, "auth.refresh_reuse_detected", "user", row.user_id)
            row = None
        user = await session.get(User, row.user_id) if row is not None else None
        if row is not None and user is not None and user.is_active:
            row.revoked_at = now()
            return await _issue_tokens(session, settings, user, row.family_id)
    raise AuthenticationRequired("refresh token is invalid, expired or revoked", code=ErrorCode.TOKEN_INVALID)


async def _revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def logout(session: AsyncSession, actor: Actor, token: str) -> None:
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == security.sha256(token)))
    if row is None or row.user_id != actor.id:
        raise NotFound("refresh_token", "given")
    await _revoke_family(session, row.family_id)
    audit.record(session, actor, "auth.logout", "user", actor.id)


async def change_password(session: AsyncSession, actor: Actor, body: PasswordChange) -> None:
    user = await session.get(User, actor.id)
    if user is None or not security.verify_password(user.password_hash, body.current_password):
        raise AuthenticationRequired("current password is wrong", code=ErrorCode.INVALID_CREDENTIALS)
    user.password_hash = security.hash_password(body.new_password)
    user.password_changed_at = now()
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    audit.record(session, actor, "user.password_changed", "user", user.id)


async def create_user(session: AsyncSession, actor: Actor, body: UserCreate) -> UserCreated:
    require(actor, Permission.USERS_WRITE)
    email = str(body.email).lower()
    if await find_user_by_email(session, email) is not None:
        raise Conflict(f"a user with email '{email}' exists", details={"email": email})
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
    read = UserRead.model_validate(user)
    return UserCreated(**read.model_dump(), password=None if body.password else password)


async def update_user(session: AsyncSession, actor: Actor, user_id: str, body: UserUpdate) -> UserRead:
    require(actor, Permission.USERS_WRITE)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    if user.id == actor.id and (body.is_active is False or (body.role and body.role != Role.ADMIN)):
        raise ValidationFailed(
            "admins cannot demote or deactivate themselves",
            [{"path": "role", "message": "would lock out the acting admin"}],
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
            await session.execute(
                update(RefreshToken).where(RefreshToken.user_id == user.id).values(revoked_at=now())
            )
    audit.record(session, actor, "user.updated", "user", user.id, before=before, after=user_snapshot(user))
    return UserRead.model_validate(user)


async def list_users(session: AsyncSession, actor: Actor) -> list[UserRead]:
    require(actor, Permission.USERS_READ)
    rows = await session.scalars(select(User).order_by(User.created_at))
    return [UserRead.model_validate(u) for u in rows]


async def ensure_admin(session: AsyncSession, email: str, password: str | None) -> str | None:
    """First start: create the admin account if no user exists. Returns a generated password, if any."""
    if await session.scalar(select(User.id).limit(1)) is not None:
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
