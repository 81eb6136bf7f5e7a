"""Event ingestion (``track`` API keys) and the live debugging view."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import errors
from experimently.events import service
from experimently.events.ingest import EventIngest, IngestResult
from experimently.events.schemas import EventRead, IngestHealthRead, IngestRead
from experimently.kit.envelope import Envelope
from experimently.kit.instants import UtcDateTime
from experimently.runtime import Runtime

router = APIRouter(prefix="/events", tags=["events"])
_BODY = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}}


def ingest_service(runtime: Runtime) -> EventIngest:
    return runtime.ingest


def _accepted(result: IngestResult, *, ids: bool) -> Response:
    body: dict[str, Any] = {"data": result.as_dict(ids=ids), "meta": {}}
    return Response(json.dumps(body, separators=(",", ":")), status_code=202, media_type="application/json")


@router.post(
    "", status_code=202, response_model=Envelope[IngestRead], openapi_extra=_BODY, responses=errors(422, 503)
)
async def track(actor: ActorDep, runtime: RuntimeDep, request: Request) -> Response:
    """Track one event; 422 when it is invalid, 503 + Retry-After when the queue is full."""
    result = await service.track_one(ingest_service(runtime), actor, await request.body())
    return _accepted(result, ids=True)


@router.post(
    "/batch",
    status_code=202,
    response_model=Envelope[IngestRead],
    openapi_extra=_BODY,
    responses=errors(422, 503),
)
async def track_batch(actor: ActorDep, runtime: RuntimeDep, request: Request) -> Response:
    """Track up to 1,000 events (``{"events": [...]}``); invalid ones are listed by index."""
    result = await service.track_batch(ingest_service(runtime), actor, await request.body())
    return _accepted(result, ids=False)


@router.get("/health", response_model=Envelope[IngestHealthRead])
async def ingestion_health(actor: ActorDep, runtime: RuntimeDep) -> Envelope[IngestHealthRead]:
    """Accepted per second (last 60 s), accepted and rejected (by reason) in the last hour, the
    queue's depth and the age of its oldest event."""
    return Envelope(
        data=IngestHealthRead.model_validate(await service.health(ingest_service(runtime), actor))
    )


@router.get("", response_model=Envelope[list[EventRead]])
async def recent_events(
    actor: ActorDep,
    session: SessionDep,
    name: Annotated[str | None, Query(max_length=100)] = None,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    experiment_key: Annotated[str | None, Query(max_length=100)] = None,
    since: UtcDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Envelope[list[EventRead]]:
    """Recent events, newest first (the live debugging view)."""
    rows = await service.recent(
        session, actor, name=name, user_id=user_id, experiment_key=experiment_key, since=since, limit=limit
    )
    return Envelope(data=[EventRead.model_validate(r) for r in rows])
