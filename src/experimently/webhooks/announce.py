"""``announce()``: the domain event of a change, for webhooks: who did it, what changed (the same
field-level diff as the audit record), why, and the console page it concerns (a path; the delivery
makes it absolute with ``EXPERIMENTLY_PUBLIC_URL``). Called by services next to ``audit.record``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.audit.service import diff, jsonable
from experimently.webhooks.models import DomainEvent
from experimently.webhooks.outbox import actor_summary, emit


def announce(
    session: AsyncSession,
    type_: str,
    actor: Actor,
    resource_type: str,
    resource_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    path: str | None = None,
    extra: dict[str, Any] | None = None,
) -> DomainEvent:
    old = jsonable(before) if before is not None else None
    new = jsonable(after) if after is not None else None
    payload: dict[str, Any] = {
        "key": resource_id,
        "actor": actor_summary(actor),
        "diff": diff(old, new),
        "reason": reason,
        "console_path": path,
        **(extra or {}),
    }
    return emit(session, type_, resource_type, resource_id, payload)
