"""SQL of the auth domain: accounts (users), refresh-token families, API keys, MFA."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.auth.mfa_models import MfaRecoveryCode, UserMfa
from experimently.auth.models import ApiKey, RefreshToken, User
from experimently.environments.models import Environment
from experimently.kit.clock import now


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def user_by_external_subject(session: AsyncSession, subject: str) -> User | None:
    """The account provisioned for an external (OIDC) identity."""
    return await session.scalar(select(User).where(User.external_subject == subject))


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    """The account of ``email`` as stored (the caller normalises it: stripped, lower case)."""
    return await session.scalar(select(User).where(User.email == email))


async def any_user(session: AsyncSession) -> bool:
    """Whether any account exists (the first start creates the admin when none does)."""
    return await session.scalar(select(User.id).limit(1)) is not None


async def all_users(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.created_at))).all()


async def another_active_admin(session: AsyncSession, user_id: str) -> bool:
    """Whether an active admin other than ``user_id`` exists."""
    query = select(User.id).where(User.role == "admin", User.is_active, User.id != user_id).limit(1)
    return await session.scalar(query) is not None


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


async def token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The refresh token with this digest, whatever its state (revoked, expired)."""
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def family_live(session: AsyncSession, family_id: str, moment: datetime) -> bool:
    """Whether the session (refresh family) still holds a usable token: a rotated token presented
    again then means two holders of one session; once every token is revoked, the session is over."""
    live = await session.scalar(
        select(RefreshToken.id)
        .where(
            RefreshToken.family_id == family_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > moment,
        )
        .limit(1)
    )
    return live is not None


async def claim_refresh_token(
    session: AsyncSession, token_hash: str, moment: datetime
) -> tuple[str, str, datetime] | None:
    """Revoke the refresh token if it is live, in one conditional UPDATE: of concurrent presenters
    exactly one gets ``(user_id, family_id, created_at)`` back; the others get None."""
    won = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > moment,
            )
            .values(revoked_at=moment)
            .returning(RefreshToken.user_id, RefreshToken.family_id, RefreshToken.created_at)
        )
    ).first()
    if won is None:
        return None
    user_id, family_id, created_at = won
    return str(user_id), str(family_id), created_at


# --- MFA -------------------------------------------------------------------------------------------


async def delete_mfa(session: AsyncSession, user_id: str) -> None:
    """Forget the account's TOTP seed (enrolled or pending)."""
    await session.execute(delete(UserMfa).where(UserMfa.user_id == user_id))


async def claim_totp_step(session: AsyncSession, user_id: str, step: int) -> bool:
    """Record ``step`` as the last accepted TOTP step if it is later than the one stored, in one
    conditional UPDATE: a code replayed in its window, or presented twice at once, gets False."""
    claimed = await session.execute(
        update(UserMfa)
        .where(UserMfa.user_id == user_id, or_(UserMfa.last_step.is_(None), UserMfa.last_step < step))
        .values(last_step=step)
        .returning(UserMfa.user_id)
    )
    return claimed.first() is not None


async def spend_mfa_token(session: AsyncSession, user_id: str, count: int) -> bool:
    """Move the account's count of two-step sign-ins from ``count`` (the MFA token's) to the next, in
    one conditional UPDATE: a token that already completed a sign-in, or was issued before another
    one completed, gets False."""
    spent = await session.execute(
        update(UserMfa)
        .where(UserMfa.user_id == user_id, UserMfa.logins == count)
        .values(logins=count + 1)
        .returning(UserMfa.user_id)
    )
    return spent.first() is not None


async def mfa_logins(session: AsyncSession, user_id: str) -> int:
    """The account's count of completed two-step sign-ins (what a new MFA token carries)."""
    return int(await session.scalar(select(UserMfa.logins).where(UserMfa.user_id == user_id)) or 0)


async def spend_recovery_code(session: AsyncSession, user_id: str, code_hash: str) -> bool:
    """Mark the unused recovery code with this digest used (a conditional UPDATE); False if none."""
    spent = await session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user_id,
            MfaRecoveryCode.code_hash == code_hash,
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now())
        .returning(MfaRecoveryCode.id)
    )
    return spent.first() is not None


async def delete_recovery_codes(session: AsyncSession, user_id: str) -> None:
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))


async def recovery_codes_left(session: AsyncSession, user_id: str) -> int:
    left = await session.scalars(
        select(MfaRecoveryCode.id).where(
            MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None)
        )
    )
    return len(left.all())
