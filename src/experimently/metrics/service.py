"""Metric definitions: create, read, update (optimistic version), delete, daily series. Every change
is permission-checked (owner or admin) and audited in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.errors import Conflict, NotFound, ValidationFailed, check_version
from experimently.kit.clock import now, to_us
from experimently.kit.references import ReferenceLookups
from experimently.metrics import conditions, repository
from experimently.metrics.models import MetricDefinition
from experimently.metrics.schemas import MetricCreate, MetricKind, MetricRead, MetricUpdate, SeriesPoint
from experimently.rbac import Permission, require

REQUIRED_FIELDS = ("name", "kind", "event_name")  # no default: null in a PATCH is refused
DEFAULTS: dict[str, Any] = {
    "description": "",
    "numerator_aggregation": "count",
    "denominator_aggregation": "count",
    "conditions": [],
    "direction": "higher",
    "cuped_pre_window_days": 0,
}


def snapshot(metric: MetricDefinition) -> dict[str, Any]:
    return audit.snapshot(MetricRead, metric, volatile=("created_at", "updated_at"))


def _check(metric: MetricDefinition) -> None:
    problems = conditions.validate(metric.conditions)
    if metric.kind == MetricKind.RATIO and not metric.denominator_event:
        problems.append({"path": "denominator_event", "message": "required for ratio metrics"})
    if problems:
        raise ValidationFailed("invalid metric definition", problems)


async def get(session: AsyncSession, actor: Actor, key: str) -> MetricDefinition:
    require(actor, Permission.METRICS_READ)
    metric = await repository.get(session, key)
    if metric is None:
        raise NotFound("metric", key)
    return metric


async def list_metrics(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[Sequence[MetricDefinition], int]:
    require(actor, Permission.METRICS_READ)
    return await repository.page(session, limit, offset)


async def create(session: AsyncSession, actor: Actor, body: MetricCreate) -> MetricDefinition:
    require(actor, Permission.METRICS_WRITE)
    if await repository.get(session, body.key) is not None:
        raise Conflict(f"metric '{body.key}' exists", details={"key": body.key})
    fields = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    moment = now()
    metric = MetricDefinition(
        **(DEFAULTS | fields), owner_id=actor.owner, version=1, created_at=moment, updated_at=moment
    )
    _check(metric)
    session.add(metric)
    await session.flush()
    audit.record(session, actor, "metric.created", "metric", metric.key, after=snapshot(metric))
    return metric


async def update(session: AsyncSession, actor: Actor, key: str, body: MetricUpdate) -> MetricDefinition:
    metric = await get(session, actor, key)
    require(actor, Permission.METRICS_WRITE, owner_id=metric.owner_id)
    check_version("metric", key, metric.version, body.version)
    before = snapshot(metric)
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    cleared = [field for field in REQUIRED_FIELDS if field in changes and changes[field] is None]
    if cleared:
        raise ValidationFailed(
            "required fields cannot be cleared", [{"path": f, "message": "must not be null"} for f in cleared]
        )
    for field, value in changes.items():
        setattr(metric, field, DEFAULTS.get(field) if value is None and field in DEFAULTS else value)
    _check(metric)
    metric.version += 1
    metric.updated_at = now()
    audit.record(session, actor, "metric.updated", "metric", key, before=before, after=snapshot(metric))
    return metric


async def delete(
    session: AsyncSession, actor: Actor, key: str, users_of: ReferenceLookups
) -> MetricDefinition:
    """Refused (409) while ``users_of`` (look-ups other domains registered) finds anything naming it."""
    metric = await get(session, actor, key)
    require(actor, Permission.METRICS_WRITE, owner_id=metric.owner_id)
    users = await users_of.find(session, key)
    if users:
        raise Conflict(f"metric '{key}' is in use", details={"used_by": users})
    audit.record(session, actor, "metric.deleted", "metric", key, before=snapshot(metric))
    await session.delete(metric)
    return metric


async def usage(
    session: AsyncSession, actor: Actor, key: str, usage_of: ReferenceLookups
) -> list[dict[str, str]]:
    """Where metric ``key`` is used: experiments (with their role) and guarded flag rollouts."""
    await get(session, actor, key)
    return await usage_of.find(session, key)


async def series(session: AsyncSession, actor: Actor, key: str, days: int) -> list[SeriesPoint]:
    """Daily totals of the metric's event (its conditions applied) over the last ``days`` days."""
    metric = await get(session, actor, key)
    since = (now() - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = await repository.daily_series(session, metric, to_us(since))
    return [
        SeriesPoint(
            day=datetime.fromtimestamp(day * 86_400, UTC).date().isoformat(),
            events=events,
            units=units,
            value_sum=total,
        )
        for day, events, units, total in rows
    ]
