"""All SQL of segments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.segments.models import Segment


async def all_segments(session: AsyncSession) -> Sequence[Segment]:
    return (await session.scalars(select(Segment).order_by(Segment.key))).all()


async def get_segment(session: AsyncSession, key: str) -> Segment | None:
    return await session.scalar(select(Segment).where(Segment.key == key))
