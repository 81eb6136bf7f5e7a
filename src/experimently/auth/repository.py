"""SQL of the auth domain: accounts (users), refresh-token families, API keys, MFA."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.auth.models import User


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def user_by_external_subject(session: AsyncSession, subject: str) -> User | None:
    """The account provisioned for an external (OIDC) identity."""
    return await session.scalar(select(User).where(User.external_subject == subject))


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(User.id).where(User.email == email)) is not None
