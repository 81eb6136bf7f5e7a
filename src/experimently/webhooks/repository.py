"""All SQL of the webhooks domain: subscriptions, the outbox of domain events, deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.webhooks.models import DomainEvent, Webhook, WebhookDelivery


async def all_webhooks(session: AsyncSession) -> list[Webhook]:
    return list((await session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id))).all())


async def active_webhooks(session: AsyncSession) -> Sequence[Webhook]:
    return (await session.scalars(select(Webhook).where(Webhook.active.is_(True)))).all()


async def undelivered_events(session: AsyncSession, limit: int) -> Sequence[DomainEvent]:
    """Domain events not handed to the webhooks yet, oldest first, locked (others skip them)."""
    query = (
        select(DomainEvent)
        .where(DomainEvent.delivered_at.is_(None))
        .order_by(DomainEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def due_deliveries(
    session: AsyncSession, moment: datetime, limit: int
) -> list[tuple[WebhookDelivery, Webhook, DomainEvent]]:
    """Pending deliveries whose next attempt is due, with their webhook and domain event. A deactivated
    webhook's deliveries wait (they go again once it is active)."""
    rows = await session.execute(
        select(WebhookDelivery, Webhook, DomainEvent)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= moment,
            Webhook.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return [(d, h, e) for d, h, e in rows.all()]


async def deliveries_of(
    session: AsyncSession, webhook_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[WebhookDelivery, str]], int]:
    """One webhook's deliveries with their event type, newest first, and how many there are."""
    where = [WebhookDelivery.webhook_id == webhook_id]
    if status is not None:
        where.append(WebhookDelivery.status == status)
    total = int(await session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0)
    rows = await session.execute(
        select(WebhookDelivery, DomainEvent.type)
        .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
        .where(*where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.event_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(d, str(t)) for d, t in rows.all()], total


async def delete_delivered_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: deliveries created before ``cutoff``, then the domain events created before it that
    were handed out; returns how many domain events were deleted."""
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff))
    result = await session.execute(
        delete(DomainEvent).where(DomainEvent.delivered_at.is_not(None), DomainEvent.created_at < cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result
