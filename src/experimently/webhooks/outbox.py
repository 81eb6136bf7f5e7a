"""``emit()``: record a domain event (``experiment.started``...) in the caller's transaction, and the
catalogue of event types a webhook may subscribe to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.kit.clock import now
from experimently.webhooks.models import DomainEvent

EVENT_TYPES = (
    "flag.created",
    "flag.updated",
    "flag.enabled",
    "flag.killed",
    "flag.archived",
    "flag.owner_changed",
    "flag.rollout_started",
    "flag.rollout_step_applied",
    "flag.rollout_released",
    "flag.rollout_cancelled",
    "flag.rollout_held",
    "flag.rollout_paused",
    "flag.rolled_back",
    "flag.guardrail_breached",
    "segment.created",
    "segment.updated",
    "segment.deleted",
    "api_key.created",
    "api_key.revoked",
    "user.created",
    "user.role_changed",
    "user.deactivated",
    "safety.settings_updated",
    "experiment.scheduled",
    "experiment.unscheduled",
    "experiment.started",
    "experiment.paused",
    "experiment.resumed",
    "experiment.completed",
    "experiment.archived",
    "experiment.shipped",
    "experiment.guardrail_breached",
    "webhook.ping",
)


def actor_summary(actor: Actor) -> dict[str, str]:
    """Who, in a domain event's payload: webhooks and the Slack format name them."""
    return {"type": str(actor.kind), "id": actor.id, "label": actor.label}


def emit(
    session: AsyncSession, type_: str, resource_type: str, resource_id: str, payload: dict[str, Any]
) -> DomainEvent:
    event = DomainEvent(
        type=type_,
        resource_type=resource_type,
        resource_id=resource_id,
        payload=payload,
        created_at=now(),
    )
    session.add(event)
    return event
