"""Daily event partitions (PostgreSQL): created ahead of time, from the oldest accepted timestamp to
``EVENT_PARTITION_DAYS_AHEAD`` days ahead, by the ``events.maintain_partitions`` job and once at start-up.
Dropping old ones is retention's (``experimently.retention``); the SQL is in ``events/repository.py``.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from experimently.config import Settings
from experimently.db import Database
from experimently.events.repository import create_partition, existing_partitions, lock_writers
from experimently.kit.clock import now

log = structlog.get_logger(__name__)


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
                await create_partition(session, day)
                created += 1
            day += timedelta(days=1)
    if created:
        log.info("events.partitions_created", count=created)
    return created
