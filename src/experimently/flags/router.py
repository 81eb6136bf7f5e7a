"""Flag management (people, ``manage`` keys) and evaluation (``evaluate`` keys; the key fixes the
environment)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.flags import rollouts, service
from experimently.flags.evaluation import FlagEvaluation, build_context
from experimently.flags.query_json import parse_query_json
from experimently.flags.schemas import (
    BatchEvaluateRequest,
    BatchEvaluationRead,
    EnvironmentUpdate,
    EvaluateRequest,
    EvaluationRead,
    FlagCreate,
    FlagRead,
    FlagUpdate,
    KillRequest,
    OwnershipTransfer,
    RolloutScheduleCreate,
    RolloutScheduleRead,
    StaleFlag,
)
from experimently.flags.sdk_service import evaluate_batch, evaluate_one, sdk_payload
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.runtime import Runtime

router = APIRouter(prefix="/feature-flags", tags=["feature flags"])
sdk_router = APIRouter(prefix="/sdk", tags=["sdk"])
RESERVED_QUERY = {"user_id", "default"}


def _read(flag: Any) -> FlagRead:
    return FlagRead.model_validate(flag)


def _json(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Hot paths skip response-model validation: the engine's results are already plain data."""
    body = json.dumps({"data": data, "meta": {}}, separators=(",", ":"), allow_nan=False)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def evaluation(runtime: Runtime) -> FlagEvaluation:
    return runtime.flags


# Evaluation routes come first: the router tries routes in order on every request, so the hot
# paths match after a few checks instead of after every management route. None of them shadows
# another route (``/{key}/evaluate`` and ``/evaluate/batch`` never match the same path).
# the hot paths answer with a pre-serialized Response (no response-model validation); their schema is
# declared for OpenAPI only
_EVALUATION: dict[int | str, dict[str, Any]] = {
    200: {"model": Envelope[EvaluationRead], "description": "the evaluation"}
}
_BATCH: dict[int | str, dict[str, Any]] = {
    200: {"model": Envelope[BatchEvaluationRead], "description": "the evaluations"}
}


@router.post("/{key}/evaluate", responses=_EVALUATION)
async def evaluate_post(actor: ActorDep, runtime: RuntimeDep, key: str, body: EvaluateRequest) -> Response:
    """Evaluate for ``{"user_id", "context"}``."""
    return _json(
        await evaluate_one(runtime, actor, key, build_context(body.user_id, body.context), body.default)
    )


@router.post("/evaluate/batch", responses=_BATCH)
async def evaluate_batch_endpoint(
    actor: ActorDep, runtime: RuntimeDep, body: BatchEvaluateRequest
) -> Response:
    """Many users for one flag (``flag_key`` + ``users``), or all flags for one user."""
    return _json(await evaluate_batch(runtime, actor, body))


@router.get("/{key}/evaluate", responses=_EVALUATION)
async def evaluate_get(
    request: Request,
    actor: ActorDep,
    runtime: RuntimeDep,
    key: str,
    user_id: str | None = None,
    default: Annotated[str | None, Query(description="value on error, as JSON (text if not JSON)")] = None,
) -> Response:
    """Evaluate for ``user_id``; every other query parameter is a context attribute (as text)."""
    attributes = {k: v for k, v in request.query_params.items() if k not in RESERVED_QUERY}
    context = build_context(user_id, attributes)
    return _json(await evaluate_one(runtime, actor, key, context, _query_default(default)))


def _query_default(raw: str | None) -> Any:
    return parse_query_json(raw, "default")


@router.get("", response_model=Envelope[list[FlagRead]])
async def list_flags(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    tag: str | None = None,
    archived: bool | None = False,
    q: Annotated[str | None, Query(max_length=200, description="text in key or name")] = None,
) -> Envelope[list[FlagRead]]:
    """List flags (filter by tag, archived, text)."""
    rows, total = await service.list_flags(
        session, actor, tag=tag, archived=archived, text=q, limit=page.limit, offset=page.offset
    )
    return Envelope(data=[_read(f) for f in rows], meta=page.meta(total))


@router.post("", response_model=Envelope[FlagRead], status_code=status.HTTP_201_CREATED)
async def create_flag(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, body: FlagCreate
) -> Envelope[FlagRead]:
    """Create a flag (off in every environment unless configured)."""
    flag = await service.create(session, runtime.cache, actor, body, runtime.experiment_handoff)
    return Envelope(data=_read(flag))


@router.get("/reports/stale", response_model=Envelope[list[StaleFlag]])
async def stale_flags(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> Envelope[list[StaleFlag]]:
    """Flags unchanged for ``days`` that are candidates for removal from the code: serving one
    variation to everyone (``rolled_out``), or last changed by an experiment's shipping (``shipped``)."""
    return Envelope(data=await rollouts.stale_report(session, actor, days, runtime.experiment_handoff))


@router.get("/{key}", response_model=Envelope[FlagRead])
async def get_flag(actor: ActorDep, session: SessionDep, key: str) -> Envelope[FlagRead]:
    """One flag with every environment's configuration."""
    return Envelope(data=_read(await service.get(session, actor, key)))


@router.patch("/{key}", response_model=Envelope[FlagRead])
async def update_flag(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: FlagUpdate
) -> Envelope[FlagRead]:
    """Change a flag; ``version`` must be the current one (409 CONFLICT when stale)."""
    flag = await service.update(session, runtime.cache, actor, key, body, runtime.experiment_handoff)
    return Envelope(data=_read(flag))


@router.delete("/{key}", response_model=Envelope[FlagRead])
async def archive_flag(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str
) -> Envelope[FlagRead]:
    """Archive a flag (kept for the audit trail; no longer served)."""
    return Envelope(data=_read(await service.archive(session, runtime.cache, actor, key)))


@router.put("/{key}/environments/{env}", response_model=Envelope[FlagRead])
async def update_environment(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, env: str, body: EnvironmentUpdate
) -> Envelope[FlagRead]:
    """Replace one environment's targeting (versioned like any change)."""
    return Envelope(
        data=_read(
            await service.update_environment(
                session, runtime.cache, actor, key, env, body, runtime.experiment_handoff
            )
        )
    )


@router.post("/{key}/environments/{env}/kill", response_model=Envelope[FlagRead])
async def kill(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    key: str,
    env: str,
    body: KillRequest | None = None,
) -> Envelope[FlagRead]:
    """Kill switch: turn the flag off in one environment at once (serves the off variation)."""
    reason = body.reason if body else None
    return Envelope(
        data=_read(await service.set_enabled(session, runtime.cache, actor, key, env, False, reason))
    )


@router.post("/{key}/environments/{env}/enable", response_model=Envelope[FlagRead])
async def enable(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    key: str,
    env: str,
    body: KillRequest | None = None,
) -> Envelope[FlagRead]:
    """Turn the flag on in one environment."""
    reason = body.reason if body else None
    return Envelope(
        data=_read(await service.set_enabled(session, runtime.cache, actor, key, env, True, reason))
    )


@router.post("/{key}/owner", response_model=Envelope[FlagRead])
async def transfer_ownership(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: OwnershipTransfer
) -> Envelope[FlagRead]:
    """Hand the flag to another user (its owner or an admin may)."""
    flag = await service.transfer_ownership(session, runtime.cache, actor, key, body.owner_id)
    return Envelope(data=_read(flag))


@router.get("/{key}/rollout-schedules", response_model=Envelope[list[RolloutScheduleRead]])
async def list_schedules(
    actor: ActorDep, session: SessionDep, key: str
) -> Envelope[list[RolloutScheduleRead]]:
    """The flag's gradual rollout schedules."""
    return Envelope(data=await rollouts.list_schedules(session, actor, key))


@router.post(
    "/{key}/rollout-schedules",
    response_model=Envelope[RolloutScheduleRead],
    status_code=status.HTTP_201_CREATED,
)
async def create_schedule(
    actor: ActorDep, session: SessionDep, key: str, body: RolloutScheduleCreate
) -> Envelope[RolloutScheduleRead]:
    """Schedule a gradual rollout: each step sets the fallthrough to that percentage at its time (steps
    strictly increasing, none more than 5 minutes in the past)."""
    return Envelope(data=await rollouts.create_schedule(session, actor, key, body))


@router.post("/{key}/rollout-schedules/{schedule_id}/cancel", response_model=Envelope[RolloutScheduleRead])
async def cancel_schedule(
    actor: ActorDep, session: SessionDep, key: str, schedule_id: str
) -> Envelope[RolloutScheduleRead]:
    """Stop a schedule; steps already applied stay."""
    return Envelope(data=await rollouts.cancel_schedule(session, actor, key, schedule_id))


@sdk_router.get(
    "/flags",
    responses={
        200: {
            "description": "`{data: payload, meta}`; the payload's fields are in docs/api.md (SDK payload)",
            "headers": {"ETag": {"description": "the payload's version", "schema": {"type": "string"}}},
        },
        304: {"description": "unchanged since the `If-None-Match` ETag (no body)"},
    },
)
async def sdk_flags(request: Request, actor: ActorDep, runtime: RuntimeDep) -> Response:
    """The environment's whole ruleset for local evaluation; ETag, and 304 when unchanged."""
    built = await sdk_payload(runtime, actor)
    if request.headers.get("if-none-match") == built.etag:
        return Response(status_code=304, headers={"ETag": built.etag})
    headers = {"ETag": built.etag, "Cache-Control": "no-cache"}
    return Response(built.body, media_type="application/json", headers=headers)
