"""Shared helpers for event tests: post batches, wait for the writer, read what is stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from experimently.events.models import Event, EventKey
from tests.conftest import Harness

BATCH = "/api/v1/events/batch"


async def post_batch(h: Harness, headers: dict[str, str], events: Sequence[object]) -> Any:
    return await h.client.post(BATCH, json={"events": events}, headers=headers)


async def flush(h: Harness) -> None:
    await h.runtime.pipeline.flush()


async def stored(h: Harness) -> list[str]:
    async with h.runtime.db.transaction() as session:
        return sorted((await session.scalars(select(Event.event_id))).all())


async def count_rows(h: Harness, model: Any, **where: Any) -> int:
    async with h.runtime.db.transaction() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


async def stored_and_distinct(h: Harness) -> tuple[int, int]:
    """Rows in ``events`` and distinct event ids among them (equal when nothing is stored twice)."""
    async with h.runtime.db.transaction() as session:
        total = await session.scalar(select(func.count()).select_from(Event))
        distinct = await session.scalar(select(func.count(func.distinct(Event.event_id))))
    return int(total or 0), int(distinct or 0)


async def pending_in_stream(h: Harness) -> int:
    """Messages of the event stream read by some consumer and not yet acknowledged (production shape)."""
    assert h.runtime.redis is not None
    s = h.settings
    return int((await h.runtime.redis.xpending(s.event_stream_key, s.event_stream_group))["pending"])


__all__ = [
    "Event",
    "EventKey",
    "count_rows",
    "flush",
    "pending_in_stream",
    "post_batch",
    "stored",
    "stored_and_distinct",
]
