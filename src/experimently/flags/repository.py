"""All SQL of flags and rollout schedules (segments' is in ``experimently.segments.repository``;
re-exported here for callers of its old home)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.flags.models import Flag, RolloutSchedule
from experimently.segments.repository import get_segment as get_segment


async def get_flag(session: AsyncSession, key: str, *, for_update: bool = False) -> Flag | None:
    query = select(Flag).where(Flag.key == key)
    if for_update:  # the locked row as it is now, not a copy the session read before the lock
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def list_flags(
    session: AsyncSession,
    *,
    tag: str | None,
    archived: bool | None,
    text: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Flag], int]:
    query = select(Flag)
    if archived is not None:
        query = query.where(Flag.archived.is_(archived))
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Flag.key).like(like), func.lower(Flag.name).like(like)))
    if not tag:  # one page and a count in SQL: the console's list stays fast at thousands of flags
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        page = await session.scalars(query.order_by(Flag.key).limit(limit).offset(offset))
        return page.all(), int(total or 0)
    rows = (await session.scalars(query.order_by(Flag.key))).all()
    # tags are JSON lists: filtered here so SQLite and PostgreSQL behave the same
    rows = [f for f in rows if tag in f.tags]
    return rows[offset : offset + limit], len(rows)


async def all_flags(session: AsyncSession, *, include_archived: bool = False) -> Sequence[Flag]:
    query = select(Flag).order_by(Flag.key)
    if not include_archived:
        query = query.where(Flag.archived.is_(False))
    return (await session.scalars(query)).all()


async def schedules_for(session: AsyncSession, flag_id: str) -> Sequence[RolloutSchedule]:
    query = (
        select(RolloutSchedule).where(RolloutSchedule.flag_id == flag_id).order_by(RolloutSchedule.created_at)
    )
    return (await session.scalars(query)).all()


async def active_schedules(session: AsyncSession) -> Sequence[RolloutSchedule]:
    query = (
        select(RolloutSchedule).where(RolloutSchedule.status == "active").order_by(RolloutSchedule.created_at)
    )
    return (await session.scalars(query)).all()


async def get_flag_by_id(session: AsyncSession, flag_id: str) -> Flag | None:
    return await session.get(Flag, flag_id)


async def stale_candidates(session: AsyncSession, before: datetime) -> Sequence[Flag]:
    query = select(Flag).where(Flag.archived.is_(False), Flag.updated_at < before).order_by(Flag.updated_at)
    return (await session.scalars(query)).all()


async def client_visible_keys(session: AsyncSession) -> Sequence[str]:
    """Keys of the flags marked visible to client-side SDK keys (not archived)."""
    query = select(Flag.key).where(Flag.client_visible.is_(True), Flag.archived.is_(False))
    return (await session.scalars(query)).all()
