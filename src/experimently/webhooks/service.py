"""Webhook subscriptions (admin only, audited; the secret never appears in the audit trail or in reads)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.encryption.keyring import KeyRing
from experimently.errors import Conflict, NotFound, ValidationFailed, check_version
from experimently.kit.clock import iso, now
from experimently.rbac import Permission, require
from experimently.webhooks import repository
from experimently.webhooks.models import Webhook, WebhookDelivery
from experimently.webhooks.outbox import emit
from experimently.webhooks.schemas import DeliveryRead, WebhookCreate, WebhookRead, WebhookUpdate
from experimently.webhooks.urls import private_host


def _secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _snapshot(hook: Webhook) -> dict[str, Any]:
    return audit.snapshot(WebhookRead, hook)


async def get(session: AsyncSession, actor: Actor, webhook_id: str) -> Webhook:
    require(actor, Permission.WEBHOOKS_MANAGE)
    hook = await session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("webhook", webhook_id)
    return hook


async def list_webhooks(session: AsyncSession, actor: Actor) -> list[Webhook]:
    require(actor, Permission.WEBHOOKS_MANAGE)
    return await repository.all_webhooks(session)


def _deliverable(url: str, allow_private: bool) -> None:
    """A URL delivery would refuse every time is refused when it is saved (``private_host``)."""
    problem = None if allow_private else private_host(url)
    if problem is not None:
        raise ValidationFailed(
            "webhook URL cannot be delivered to",
            [{"path": "url", "message": f"{problem} (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow it)"}],
        )


async def create(
    session: AsyncSession, actor: Actor, body: WebhookCreate, keyring: KeyRing, *, allow_private: bool = False
) -> tuple[Webhook, str]:
    """The new subscription and its signing secret in plaintext (stored encrypted; shown once)."""
    require(actor, Permission.WEBHOOKS_MANAGE)
    _deliverable(body.url, allow_private)
    moment = now()
    secret = _secret()
    hook = Webhook(
        **body.model_dump(), secret=keyring.encrypt(secret), version=1, created_at=moment, updated_at=moment
    )
    session.add(hook)
    await session.flush()
    audit.record(session, actor, "webhook.created", "webhook", hook.id, after=_snapshot(hook))
    return hook, secret


async def update(
    session: AsyncSession, actor: Actor, webhook_id: str, body: WebhookUpdate, *, allow_private: bool = False
) -> Webhook:
    hook = await get(session, actor, webhook_id)
    if body.url is not None:
        _deliverable(body.url, allow_private)
    check_version("webhook", hook.id, hook.version, body.version)
    before = _snapshot(hook)
    for field, value in body.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is not None:
            setattr(hook, field, value)
    hook.version += 1
    hook.updated_at = now()
    audit.record(session, actor, "webhook.updated", "webhook", hook.id, before=before, after=_snapshot(hook))
    return hook


async def rotate_secret(
    session: AsyncSession, actor: Actor, webhook_id: str, keyring: KeyRing
) -> tuple[Webhook, str]:
    """A new secret, in force for every delivery sent from now on (retries included)."""
    hook = await get(session, actor, webhook_id)
    before = _snapshot(hook)
    secret = _secret()
    hook.secret = keyring.encrypt(secret)
    hook.version += 1
    hook.updated_at = now()
    audit.record(
        session, actor, "webhook.secret_rotated", "webhook", hook.id, before=before, after=_snapshot(hook)
    )
    return hook, secret


async def delete(session: AsyncSession, actor: Actor, webhook_id: str) -> None:
    hook = await get(session, actor, webhook_id)
    audit.record(session, actor, "webhook.deleted", "webhook", hook.id, before=_snapshot(hook))
    await session.delete(hook)


def _require_active(hook: Webhook, what: str) -> None:
    """A deactivated webhook is sent nothing: a test or a retry would only wait until it is active."""
    if not hook.active:
        raise Conflict(
            f"the webhook is inactive, so nothing is sent to it: activate it before it can be {what}",
            details={"active": False},
        )


async def ping(session: AsyncSession, actor: Actor, webhook_id: str) -> DeliveryRead:
    """A ``webhook.ping`` event for this webhook only, delivered by the next run of the delivery job."""
    hook = await get(session, actor, webhook_id)
    _require_active(hook, "pinged")
    event = emit(session, "webhook.ping", "webhook", hook.id, {"webhook_id": hook.id, "at": iso(now())})
    event.delivered_at = now()  # handed over here, to this webhook alone
    await session.flush()
    delivery = WebhookDelivery(webhook_id=hook.id, event_id=event.id, next_attempt_at=now())
    session.add(delivery)
    await session.flush()
    # a test request sent to the subscriber's URL in the admin's name: who sent what, and when
    audit.record(session, actor, "webhook.pinged", "webhook", hook.id, after={"delivery_id": delivery.id})
    return read_delivery(delivery, event.type)


async def retry(session: AsyncSession, actor: Actor, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again from the next run, with a fresh set of attempts (after a receiver's outage
    outlasted the retries, say). Audited."""
    hook = await get(session, actor, webhook_id)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != hook.id:
        raise NotFound("delivery", delivery_id)
    _require_active(hook, "retried")
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now()
    audit.record(
        session,
        actor,
        "webhook.delivery_retried",
        "webhook",
        hook.id,
        before=before,
        after={"status": "pending", "attempts": 0, "delivery_id": delivery.id},
    )
    return delivery


async def deliveries(
    session: AsyncSession, actor: Actor, webhook_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[DeliveryRead], int]:
    """The webhook's deliveries, newest first."""
    hook = await get(session, actor, webhook_id)
    rows, total = await repository.deliveries_of(session, hook.id, status, limit, offset)
    return [read_delivery(d, event_type) for d, event_type in rows], total


def read_delivery(delivery: WebhookDelivery, event_type: str) -> DeliveryRead:
    columns = {c.key: getattr(delivery, c.key) for c in WebhookDelivery.__table__.columns}
    return DeliveryRead.model_validate(columns | {"event_type": event_type})
