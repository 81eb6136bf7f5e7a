"""The events domain's privacy provider: raw events and the per-unit metric aggregates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.events import repository
from experimently.events.schemas import EventRead
from experimently.metrics.models import MetricUnit
from experimently.privacy import PrivacyProvider


async def export_events(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await repository.events_of_user(session, user_id)
    return [EventRead.model_validate(r).model_dump(mode="json") for r in rows]


async def export_units(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(MetricUnit).where(MetricUnit.unit_id == user_id))).all()
    return [
        {
            "experiment_key": r.experiment_key,
            "metric_key": r.metric_key,
            "variant": r.variant,
            "value": r.value,
            "pre_value": r.pre_value,
            "denominator": r.denominator,
        }
        for r in rows
    ]


async def erase_units(session: AsyncSession, user_id: str) -> int:
    result = await session.execute(delete(MetricUnit).where(MetricUnit.unit_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE has rowcount


EVENTS_PROVIDER = PrivacyProvider("events", export_events, repository.erase_user)
METRIC_UNITS_PROVIDER = PrivacyProvider("metric_units", export_units, erase_units)
