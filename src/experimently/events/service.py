"""Event rules: who may track and read, the batch bound, and the live debugging view."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.errors import ValidationFailed
from experimently.events import repository
from experimently.events.ingest import EventIngest, IngestResult
from experimently.events.models import Event
from experimently.events.pipeline import EmbeddedPipeline, Pipeline, StreamPipeline
from experimently.events.schemas import MAX_BATCH
from experimently.kit.clock import ensure_utc, to_us
from experimently.rbac import Permission, require, require_key_environment


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise ValidationFailed(
            "body is nested too deeply", [{"path": "body", "message": "JSON nested too deeply"}]
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "body is not valid JSON", [{"path": "body", "message": "invalid JSON"}]
        ) from None


BATCH_FIELDS = frozenset({"events"})


def _require_track_key(actor: Actor) -> None:
    """Tracking is for applications: an API key with the ``track`` scope, which fixes the environment."""
    require_key_environment(actor, Permission.TRACK, "track")


async def track_one(ingest: EventIngest, actor: Actor, body: bytes) -> IngestResult:
    _require_track_key(actor)
    event = parse_body(body)
    _rows, rejected = ingest.validate([event], actor.environment_key)
    if rejected:
        problem = rejected[0]
        raise ValidationFailed(
            "event rejected", [{"path": problem["path"] or "body", "message": problem["reason"]}]
        )
    return await ingest.submit([event], environment=actor.environment_key)


async def track_batch(ingest: EventIngest, actor: Actor, body: bytes) -> IngestResult:
    _require_track_key(actor)
    payload = parse_body(body)
    if not isinstance(payload, dict):
        raise ValidationFailed(
            "body must be {'events': [...]}", [{"path": "body", "message": "must be an object"}]
        )
    unknown = sorted(k for k in payload if k not in BATCH_FIELDS)
    if unknown:  # as an event's own unknown fields: a misspelt field is an error, not silently dropped
        raise ValidationFailed(
            "unknown field in the batch",
            [{"path": k[:200], "message": "unknown field"} for k in unknown[:20]],
        )
    events = payload.get("events")
    if not isinstance(events, list):
        problem = "required" if events is None else "must be a list"
        raise ValidationFailed("body must be {'events': [...]}", [{"path": "events", "message": problem}])
    if not events or len(events) > MAX_BATCH:
        raise ValidationFailed(
            "batch size out of range", [{"path": "events", "message": f"must hold 1 to {MAX_BATCH} events"}]
        )
    return await ingest.submit(events, environment=actor.environment_key)


async def recent(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str | None,
    user_id: str | None,
    experiment_key: str | None,
    since: datetime | None,
    limit: int,
) -> Sequence[Event]:
    require(actor, Permission.EVENTS_READ)
    since_us = to_us(ensure_utc(since)) if since is not None else None
    return await repository.recent(
        session, name=name, user_id=user_id, experiment_key=experiment_key, since_us=since_us, limit=limit
    )


async def _queue(pipeline: Pipeline) -> tuple[int, float | None]:
    """Events waiting to be written, and the age in seconds of the oldest of them (None: empty)."""
    moment = time.time()
    if isinstance(pipeline, StreamPipeline):
        depth = await pipeline.depth()
        first = await pipeline.redis.xrange(pipeline.stream, count=1)
        if not first or depth <= 0:
            return max(depth, 0), None
        entry_id = first[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return depth, max(moment - int(entry_id.split("-")[0]) / 1000.0, 0.0)
    if isinstance(pipeline, EmbeddedPipeline):
        oldest = pipeline.queue[0][0].received_us if pipeline.queue and pipeline.queue[0] else None
        age = None if oldest is None else max(moment - oldest / 1e6, 0.0)
        return pipeline.pending, age
    return 0, None


async def health(ingest: EventIngest, actor: Actor) -> dict[str, Any]:
    """Ingestion health: accepted per second, queue depth and age, rejections by reason."""
    require(actor, Permission.EVENTS_READ)
    depth, oldest = await _queue(ingest.pipeline)
    return ingest.health.snapshot() | {"queue_depth": depth, "oldest_queued_seconds": oldest}
