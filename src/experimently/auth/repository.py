"""SQL of the auth domain: accounts (users), refresh-token families, API keys, MFA."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.auth.models import ApiKey, RefreshToken, User
from experimently.environments.models import Environment
from experimently.kit.clock import now


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def user_by_external_subject(session: AsyncSession, subject: str) -> User | None:
    """The account provisioned for an external (OIDC) identity."""
    return await session.scalar(select(User).where(User.external_subject == subject))


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(User.id).where(User.email == email)) is not None


async def revoke_user_tokens(session: AsyncSession, user_id: str) -> None:
    """End every live session of the user (its refresh tokens not revoked yet)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def revoke_sessions(session: AsyncSession, user_id: str, family_id: str | None) -> set[str]:
    """Revoke the user's live refresh tokens, of one family or all; returns the families ended."""
    where = [RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)]
    if family_id is not None:
        where.append(RefreshToken.family_id == family_id)
    ended = await session.execute(
        update(RefreshToken).where(*where).values(revoked_at=now()).returning(RefreshToken.family_id)
    )
    return {str(row[0]) for row in ended.all()}


async def live_tokens(
    session: AsyncSession, user_id: str, moment: datetime, used_since: datetime | None
) -> Sequence[RefreshToken]:
    """The user's refresh tokens neither revoked nor expired (nor idle since ``used_since``), newest
    first: one per live session."""
    live = select(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > moment
    )
    if used_since is not None:
        live = live.where(RefreshToken.created_at >= used_since)
    return (await session.scalars(live.order_by(RefreshToken.created_at.desc()))).all()


async def family_starts(session: AsyncSession, families: Sequence[str]) -> dict[str, datetime]:
    """When each refresh-token family (a session) began: its first token."""
    rows = await session.execute(
        select(RefreshToken.family_id, func.min(RefreshToken.created_at))
        .where(RefreshToken.family_id.in_(families))
        .group_by(RefreshToken.family_id)
    )
    return {str(family): started for family, started in rows.all()}


# ----- API keys -----------------------------------------------------------------------------------


async def keys_with_environment(session: AsyncSession) -> list[tuple[ApiKey, str]]:
    """Every API key with its environment's key, oldest first."""
    rows = await session.execute(
        select(ApiKey, Environment.key)
        .join(Environment, Environment.id == ApiKey.environment_id)
        .order_by(ApiKey.created_at)
    )
    return [(key, env_key) for key, env_key in rows.all()]


async def key_with_environment(session: AsyncSession, key_id: str) -> tuple[ApiKey, str] | None:
    row = (
        await session.execute(
            select(ApiKey, Environment.key)
            .join(Environment, Environment.id == ApiKey.environment_id)
            .where(ApiKey.id == key_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def key_for_verification(session: AsyncSession, digest: str) -> tuple[ApiKey, str, bool | None] | None:
    """The key with this hash, its environment's key and whether its creator is active (None when the
    creator was removed)."""
    row = (
        await session.execute(
            select(ApiKey, Environment.key, User.is_active)
            .join(Environment, Environment.id == ApiKey.environment_id)
            .outerjoin(User, User.id == ApiKey.created_by)
            .where(ApiKey.key_hash == digest)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def mark_keys_used(session: AsyncSession, used: dict[str, datetime]) -> None:
    """``last_used_at`` of many keys in one statement (executemany by primary key)."""
    await session.execute(
        update(ApiKey), [{"id": key_id, "last_used_at": moment} for key_id, moment in used.items()]
    )
