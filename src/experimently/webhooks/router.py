"""Webhook subscriptions and their deliveries (admin only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.webhooks import service
from experimently.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
DeliveryStatus = Literal["pending", "delivered", "failed"]


@router.get("", response_model=Envelope[list[WebhookRead]])
async def list_webhooks(actor: ActorDep, session: SessionDep) -> Envelope[list[WebhookRead]]:
    """Every webhook subscription (never their secrets)."""
    rows = await service.list_webhooks(session, actor)
    return Envelope(data=[WebhookRead.model_validate(r) for r in rows], meta={"total": len(rows)})


@router.post("", response_model=Envelope[WebhookWithSecret], status_code=status.HTTP_201_CREATED)
async def create(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, body: WebhookCreate
) -> Envelope[WebhookWithSecret]:
    """Subscribe a URL to domain events (all types when ``event_types`` is empty). The answer carries the
    signing secret, shown only now."""
    hook, secret = await service.create(
        session, actor, body, runtime.keyring, allow_private=runtime.settings.webhook_allow_private_networks
    )
    return Envelope(data=_with_secret(hook, secret))


@router.get("/{webhook_id}", response_model=Envelope[WebhookRead])
async def get(actor: ActorDep, session: SessionDep, webhook_id: str) -> Envelope[WebhookRead]:
    """One webhook subscription."""
    return Envelope(data=WebhookRead.model_validate(await service.get(session, actor, webhook_id)))


@router.patch("/{webhook_id}", response_model=Envelope[WebhookRead])
async def update(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, webhook_id: str, body: WebhookUpdate
) -> Envelope[WebhookRead]:
    """Change the URL, description, event types or active flag; ``version`` must be current."""
    allow_private = runtime.settings.webhook_allow_private_networks
    hook = await service.update(session, actor, webhook_id, body, allow_private=allow_private)
    return Envelope(data=WebhookRead.model_validate(hook))


@router.delete("/{webhook_id}", response_model=Envelope[dict[str, str]])
async def delete(actor: ActorDep, session: SessionDep, webhook_id: str) -> Envelope[dict[str, str]]:
    """Remove the subscription and its deliveries."""
    await service.delete(session, actor, webhook_id)
    return Envelope(data={"id": webhook_id})


@router.post("/{webhook_id}/rotate-secret", response_model=Envelope[WebhookWithSecret])
async def rotate_secret(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, webhook_id: str
) -> Envelope[WebhookWithSecret]:
    """A new signing secret, shown only now; every delivery sent from now on is signed with it."""
    hook, secret = await service.rotate_secret(session, actor, webhook_id, runtime.keyring)
    return Envelope(data=_with_secret(hook, secret))


def _with_secret(hook: object, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookRead.model_validate(hook).model_dump(), secret=secret)


@router.post(
    "/{webhook_id}/ping", response_model=Envelope[DeliveryRead], status_code=status.HTTP_202_ACCEPTED
)
async def ping(actor: ActorDep, session: SessionDep, webhook_id: str) -> Envelope[DeliveryRead]:
    """Queue a ``webhook.ping`` event for this webhook alone (sent by the next delivery run)."""
    return Envelope(data=await service.ping(session, actor, webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=Envelope[list[DeliveryRead]])
async def deliveries(
    actor: ActorDep,
    session: SessionDep,
    webhook_id: str,
    page: Annotated[Page, Depends(page_params)],
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Envelope[list[DeliveryRead]]:
    """The webhook's deliveries, newest first: event type, status, attempts, last answer or error,
    next attempt."""
    rows, total = await service.deliveries(session, actor, webhook_id, status_, page.limit, page.offset)
    return Envelope(data=rows, meta=page.meta(total))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    response_model=Envelope[dict[str, str]],
    status_code=status.HTTP_202_ACCEPTED,
)
async def retry(
    actor: ActorDep, session: SessionDep, webhook_id: str, delivery_id: str
) -> Envelope[dict[str, str]]:
    """Send a delivery again (pending, attempts reset) from the next delivery run."""
    delivery = await service.retry(session, actor, webhook_id, delivery_id)
    return Envelope(data={"id": delivery.id, "status": delivery.status})
