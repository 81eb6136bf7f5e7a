"""The job ``webhooks.deliver``: domain events to the webhooks that want them, signed, retried.

Each run, under the job lease (one instance at a time):

1. **hand over**: every domain event not yet handed over gets one ``webhook_deliveries`` row per
   active webhook whose ``event_types`` include it (all types when empty), and is marked
   ``delivered_at`` (handed over); webhooks created later do not receive older events;
2. **send** the due deliveries (pending, ``next_attempt_at`` passed), at most ``BATCH`` per run, ten at
   a time, outside any database transaction. Before sending, each is pushed ``CLAIM`` into the future,
   so a crash mid-send retries it later instead of never;
3. **record** each outcome: a 2xx answer delivers it; anything else (status, timeout, refused address)
   schedules a retry after ``BACKOFF[attempts - 1]``, and the ``WEBHOOK_MAX_ATTEMPTS``-th failure
   fails it for good.

Delivery is at least once: a receiver may see a delivery again (same ``X-Experimently-Delivery``) when
an answer is lost. The request:

    POST <url>
    Content-Type: application/json
    User-Agent: Experimently-Webhooks/1
    X-Experimently-Event: experiment.paused
    X-Experimently-Delivery: <delivery id, stable across retries>
    X-Experimently-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

    {"id": 42, "type": "experiment.paused", "created_at": "...",
     "resource": {"type": "experiment", "id": "..."}, "data": {...}}
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from prometheus_client import Counter

from experimently.config import Settings
from experimently.db import Database
from experimently.encryption.keyring import KeyRing, KeyRingError, keyring_of
from experimently.kit.clock import now
from experimently.webhooks import repository
from experimently.webhooks.formats import render
from experimently.webhooks.models import WebhookDelivery
from experimently.webhooks.urls import url_problem

log = structlog.get_logger(__name__)
DELIVERIES = Counter(
    "experimently_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)

BATCH = 200
HAND_OVER = 1_000
CONCURRENCY = 10
CLAIM = timedelta(minutes=5)
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Experimently-Signature`` value for a body sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now_s: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (and the docs show): recompute the signature and compare in constant time,
    refusing stale timestamps (replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return abs(now_s - timestamp) <= tolerance_s and hmac.compare_digest(expected, parts.get("v1", ""))


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    url: str
    secret: str
    event_type: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _hand_over(db: Database) -> int:
    async with db.transaction() as session:
        events = await repository.undelivered_events(session, HAND_OVER)
        if not events:
            return 0
        hooks = await repository.active_webhooks(session)
        moment = now()
        for event in events:
            for hook in hooks:
                if hook.wants(event.type):
                    session.add(
                        WebhookDelivery(webhook_id=hook.id, event_id=event.id, next_attempt_at=moment)
                    )
            event.delivered_at = moment
        return len(events)


async def _claim(db: Database, settings: Settings, keyring: KeyRing) -> list[Outgoing]:
    async with db.transaction() as session:
        moment = now()
        out: list[Outgoing] = []
        for delivery, hook, event in await repository.due_deliveries(session, moment, BATCH):
            delivery.next_attempt_at = moment + CLAIM
            try:  # stored encrypted; the plaintext lives only in memory
                secret = keyring.decrypt(hook.secret)
            except KeyRingError:  # a key left the ring too early: this hook waits, the others go
                log.error("webhook.secret_undecryptable", webhook_id=hook.id, delivery_id=delivery.id)
                continue
            body = render(event, hook.format, settings.public_url)
            out.append(Outgoing(delivery.id, hook.url, secret, event.type, body))
        return out


async def _refused(url: str, settings: Settings) -> str | None:
    """Why ``url`` may not be called (None: it may): a host that resolves to a private, loopback,
    link-local, multicast or reserved address, unless WEBHOOK_ALLOW_PRIVATE_NETWORKS."""
    if settings.webhook_allow_private_networks:
        return None
    host = httpx.URL(url).host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"refused: {host} resolves to a non-public address ({address})"
    return None


async def _send(client: httpx.AsyncClient, settings: Settings, item: Outgoing) -> Outcome:
    """One delivery's outcome; whatever goes wrong becomes that delivery's error, never the run's."""
    try:
        return await _attempt(client, settings, item)
    except Exception as exc:  # an outcome is recorded for every delivery, whatever another one does
        log.warning("webhooks.delivery_error", delivery=item.delivery_id, error=repr(exc))
        return Outcome(item.delivery_id, None, f"{type(exc).__name__}: {exc}"[:500])


async def _attempt(client: httpx.AsyncClient, settings: Settings, item: Outgoing) -> Outcome:
    problem = url_problem(item.url)  # rows saved before save-time validation existed
    if problem is not None:
        return Outcome(item.delivery_id, None, f"invalid URL: {problem}")
    refused = await _refused(item.url, settings)
    if refused:
        return Outcome(item.delivery_id, None, refused)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Experimently-Webhooks/1",
        "X-Experimently-Event": item.event_type,
        "X-Experimently-Delivery": item.delivery_id,
        "X-Experimently-Signature": sign(item.secret, int(now().timestamp()), item.body),
    }
    try:
        response = await client.post(item.url, content=item.body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(item.delivery_id, None, f"{type(exc).__name__}: {exc}"[:500])
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Outcome(item.delivery_id, response.status_code, error)


async def _record(db: Database, settings: Settings, outcomes: list[Outcome]) -> None:
    async with db.transaction() as session:
        moment = now()
        for outcome in outcomes:
            delivery = await session.get(WebhookDelivery, outcome.delivery_id)
            if delivery is None:  # its webhook was deleted meanwhile
                continue
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
            if outcome.ok:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", moment, None
                label = "delivered"
            elif delivery.attempts >= settings.webhook_max_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
                label = "failed"
            else:
                delivery.next_attempt_at = moment + backoff(delivery.attempts)
                label = "retry"
            DELIVERIES.labels(label).inc()
            if not outcome.ok:
                log.warning(
                    "webhooks.delivery_failed",
                    delivery=delivery.id,
                    attempts=delivery.attempts,
                    status=delivery.status,
                    error=outcome.error,
                )


async def deliver(db: Database, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """One run of the job; returns how many deliveries were attempted. ``transport``: tests stand in
    for the outside world with ``httpx.MockTransport``."""
    await _hand_over(db)
    due = await _claim(db, settings, keyring_of(settings))
    if not due:
        return 0
    limit = asyncio.Semaphore(CONCURRENCY)
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as client:

        async def one(item: Outgoing) -> Outcome:
            async with limit:
                return await _send(client, settings, item)

        outcomes = await asyncio.gather(*(one(item) for item in due))
    await _record(db, settings, list(outcomes))
    return len(outcomes)
