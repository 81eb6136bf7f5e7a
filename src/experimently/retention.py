"""Retention, in one place: every policy that deletes rows by age, with the setting that gives its age.

- ``events``, ``RETENTION_RAW_EVENTS_DAYS`` (90): raw events; whole daily partitions are dropped on
  PostgreSQL, rows deleted on SQLite;
- ``experiment_statistics``, ``RETENTION_AGGREGATES_DAYS`` (730): the statistics of experiments not
  aggregated for that long (experiments that ended long ago);
- ``domain_events``, ``RETENTION_RAW_EVENTS_DAYS`` (90): domain events handed to the webhooks, and
  their deliveries;
- ``audit_logs``, ``RETENTION_AUDIT_DAYS`` (2555): audit records.

Each domain's repository does its own deletion; this module lists the policies and runs them in one
transaction from the hourly job ``events.retention`` (named when it deleted only events). Each kind
that deleted something is recorded in the audit trail as the system actor. A new policy is one line
in ``POLICIES`` and one setting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM
from experimently.audit import repository as audit_repository
from experimently.config import Settings
from experimently.db import Database
from experimently.events import repository as events_repository
from experimently.kit.clock import now
from experimently.metrics import repository as metrics_repository
from experimently.webhooks import repository as webhooks_repository

Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Policy:
    kind: str  # the audit record's resource type, and the key of the counts
    setting: str  # the Settings field holding the age in days
    purge: Purge  # deletes what is older than the cutoff, returns how many
    unit: str = "rows"


POLICIES: tuple[Policy, ...] = (
    Policy("events", "retention_raw_events_days", events_repository.purge_before, "partitions+rows"),
    Policy("experiment_statistics", "retention_aggregates_days", metrics_repository.delete_statistics_before),
    Policy("domain_events", "retention_raw_events_days", webhooks_repository.delete_delivered_before),
    Policy("audit_logs", "retention_audit_days", audit_repository.delete_before),
)


async def run_retention(db: Database, settings: Settings) -> dict[str, int]:
    """Delete what is older than each policy's retention; one audit record per kind that deleted."""
    moment = now()
    counts: dict[str, int] = {}
    async with db.transaction() as session:
        for policy in POLICIES:
            days = int(getattr(settings, policy.setting))
            counts[policy.kind] = await policy.purge(session, moment - timedelta(days=days))
        for policy in POLICIES:
            if counts[policy.kind]:
                audit.record(
                    session,
                    SYSTEM,
                    "retention.deleted",
                    policy.kind,
                    None,
                    after={"deleted": counts[policy.kind], "unit": policy.unit},
                    reason="retention",
                )
    return counts
