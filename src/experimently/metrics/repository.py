"""All SQL of metric definitions and the per-metric daily series."""

# ruff: noqa: S608  (SQL text is assembled from constants and compiled conditions; every value is bound)

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.kit.clock import DAY_US
from experimently.metrics.conditions import compile_conditions
from experimently.metrics.models import AggregationState, MetricDefinition


async def get(session: AsyncSession, key: str) -> MetricDefinition | None:
    return await session.scalar(select(MetricDefinition).where(MetricDefinition.key == key))


async def by_keys(session: AsyncSession, keys: Sequence[str]) -> dict[str, MetricDefinition]:
    rows = await session.scalars(select(MetricDefinition).where(MetricDefinition.key.in_(list(keys))))
    return {m.key: m for m in rows}


async def page(session: AsyncSession, limit: int, offset: int) -> tuple[Sequence[MetricDefinition], int]:
    total = int(await session.scalar(select(func.count()).select_from(MetricDefinition)) or 0)
    query = select(MetricDefinition).order_by(MetricDefinition.key).limit(limit).offset(offset)
    return (await session.scalars(query)).all(), total


async def daily_series(
    session: AsyncSession, metric: MetricDefinition, since_us: int
) -> list[tuple[int, int, int, float]]:
    """(day number, events, distinct units, sum of value) per UTC day of the metric's event."""
    params: dict[str, Any] = {"name": metric.event_name, "since": since_us, "day": DAY_US}
    where = compile_conditions(metric.conditions, session.get_bind().dialect.name, "e", params, "c")
    query = text(
        "SELECT e.ts_us / :day AS d, COUNT(*), COUNT(DISTINCT e.user_id), COALESCE(SUM(e.value), 0) "
        f"FROM events e WHERE e.name = :name AND e.ts_us >= :since AND {where} GROUP BY d ORDER BY d"
    )
    rows = await session.execute(query, params)
    return [(int(d), int(n), int(u), float(s)) for d, n, u, s in rows]


async def delete_statistics_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: delete the statistics of experiments not aggregated since ``cutoff`` (experiments
    that ended long ago); returns how many."""
    result = await session.execute(delete(AggregationState).where(AggregationState.aggregated_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result
