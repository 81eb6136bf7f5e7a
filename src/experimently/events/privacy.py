"""The events domain's privacy providers: raw events, and the experiment statistics derived from them.

The statistics keep no per-unit rows, but they hold each exposed unit's contribution; erasure
retracts it (computed from the raw events) before the raw events themselves are erased, so the
``experiment_statistics`` provider runs first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.events import repository
from experimently.events.schemas import EventRead
from experimently.metrics.aggregation import retract_unit, unit_contributions
from experimently.privacy import PrivacyProvider


async def export_events(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await repository.events_of_user(session, user_id)
    return [EventRead.model_validate(r).model_dump(mode="json") for r in rows]


EVENTS_PROVIDER = PrivacyProvider("events", export_events, repository.erase_user)
STATISTICS_PROVIDER = PrivacyProvider("experiment_statistics", unit_contributions, retract_unit, order=-1)
