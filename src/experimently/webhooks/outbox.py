"""``emit()``: record a domain event (``experiment.started``...) in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.kit.clock import now
from experimently.webhooks.models import DomainEvent


def emit(
    session: AsyncSession, type_: str, resource_type: str, resource_id: str, payload: dict[str, Any]
) -> None:
    session.add(
        DomainEvent(
            type=type_,
            resource_type=resource_type,
            resource_id=resource_id,
            payload=payload,
            created_at=now(),
        )
    )
