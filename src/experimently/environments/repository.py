"""All SQL of environments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.environments.models import Environment


async def by_key(session: AsyncSession, key: str) -> Environment | None:
    return await session.scalar(select(Environment).where(Environment.key == key))


async def all_environments(session: AsyncSession) -> Sequence[Environment]:
    return (
        await session.scalars(select(Environment).order_by(Environment.created_at, Environment.key))
    ).all()


async def key_exists(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(Environment.id).where(Environment.key == key)) is not None


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Environment.id))) or 0)


async def all_keys(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Environment.key).order_by(Environment.key))).all())
