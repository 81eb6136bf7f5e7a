"""Storage upkeep: daily partitions created ahead (PostgreSQL), and the retention job.

Retention is the one place rows are deleted by age: raw events (whole partitions dropped on
PostgreSQL, rows deleted on SQLite), the statistics of experiments not aggregated for the configured
days (experiments that ended long ago), domain events handed to webhooks (with their deliveries) as
old as raw events, and audit records older than their configured days. Each deletion is recorded in
the audit trail as the system actor.
"""

# ruff: noqa: S608  (SQL text is assembled from constants and compiled conditions; every value is bound)

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import structlog
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM
from experimently.audit.models import AuditLog
from experimently.config import Settings
from experimently.db import Database
from experimently.events.models import Event, EventKey
from experimently.events.repository import lock_writers
from experimently.kit.clock import now
from experimently.metrics.models import AggregationState
from experimently.webhooks.models import DomainEvent, WebhookDelivery

log = structlog.get_logger(__name__)
PARTITION = re.compile(r"^events_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"events_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def _create_partition(session: AsyncSession, day: date) -> None:
    """Create one day's partition, moving rows the default partition caught for that day."""
    name = partition_name(day)
    low, high = _bounds(day)
    await session.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)"))
    await session.execute(
        text(
            f"WITH moved AS (DELETE FROM events_default WHERE occurred_at >= :lo "
            f"AND occurred_at < :hi RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lo": low, "hi": high},
    )
    span = f"FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
    await session.execute(text(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES {span}"))


async def existing_partitions(session: AsyncSession) -> dict[date, str]:
    rows = await session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
        )
    )
    found: dict[date, str] = {}
    for (relname,) in rows:
        match = PARTITION.match(relname)
        if match:
            found[datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()] = relname
    return found


async def maintain_partitions(db: Database, settings: Settings) -> int:
    """Create the daily partitions from the oldest accepted timestamp to ``days_ahead``."""
    if db.dialect != "postgresql":
        return 0
    today = now().date()
    first = today - timedelta(days=settings.event_max_age_days + 1)
    last = today + timedelta(days=settings.event_partition_days_ahead)
    created = 0
    async with db.transaction() as session:
        await lock_writers(session)
        have = await existing_partitions(session)
        day = first
        while day <= last:
            if day not in have:
                await _create_partition(session, day)
                created += 1
            day += timedelta(days=1)
    if created:
        log.info("events.partitions_created", count=created)
    return created


async def _drop_old_partitions(session: AsyncSession, cutoff: datetime) -> int:
    dropped = 0
    for day, name in sorted((await existing_partitions(session)).items()):
        if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) <= cutoff:
            await session.execute(text(f"DROP TABLE {name}"))
            dropped += 1
    return dropped


async def _purge_events(session: AsyncSession, cutoff: datetime) -> int:
    """Raw events before ``cutoff``: whole partitions on PostgreSQL, plus stray rows by DELETE."""
    dropped = 0
    if session.get_bind().dialect.name == "postgresql":
        await lock_writers(session)
        dropped = await _drop_old_partitions(session, cutoff)
    result = await session.execute(delete(Event).where(Event.occurred_at < cutoff))
    await session.execute(delete(EventKey).where(EventKey.occurred_at < cutoff))
    return dropped + int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result


async def run_retention(db: Database, settings: Settings) -> dict[str, int]:
    """Delete what is older than the configured retention; one audit record per kind deleted."""
    moment = now()
    async with db.transaction() as session:
        raw_cutoff = moment - timedelta(days=settings.retention_raw_events_days)
        events = await _purge_events(session, raw_cutoff)
        agg_cutoff = moment - timedelta(days=settings.retention_aggregates_days)
        stale = delete(AggregationState).where(AggregationState.aggregated_at < agg_cutoff)
        statistics = await session.execute(stale)
        # domain events handed to the webhooks, and their deliveries, age out with the raw events
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < raw_cutoff))
        outbox = await session.execute(
            delete(DomainEvent).where(
                DomainEvent.delivered_at.is_not(None), DomainEvent.created_at < raw_cutoff
            )
        )
        audit_cutoff = moment - timedelta(days=settings.retention_audit_days)
        audits = await session.execute(delete(AuditLog).where(AuditLog.occurred_at < audit_cutoff))
        counts = {
            "events": events,
            "experiment_statistics": int(statistics.rowcount),  # type: ignore[attr-defined]  # DELETE result
            "domain_events": int(outbox.rowcount),  # type: ignore[attr-defined]  # DELETE result
            "audit_logs": int(audits.rowcount),  # type: ignore[attr-defined]  # DELETE result
        }
        for kind, count in counts.items():
            if count:
                audit.record(
                    session,
                    SYSTEM,
                    "retention.deleted",
                    kind,
                    None,
                    after={"deleted": count, "unit": "partitions+rows" if kind == "events" else "rows"},
                    reason="retention",
                )
    return counts
