"""Client-side SDKs (browsers, mobile apps): keys of the `client` scope never see rules or segments.

They may only call ``POST /sdk/evaluate``: the evaluated values of the flags marked client-visible, for
one context. The server evaluates (and, for flags serving experiments, assigns and records the exposure
as for any evaluation). Marking a flag client-visible is a versioned, audited flag change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.auth.actor import Actor
from experimently.cache import Cache
from experimently.deps import ActorDep, RuntimeDep, SessionDep
from experimently.errors import check_version
from experimently.flags.evaluation import FlagEvaluation, build_context
from experimently.flags.models import Flag
from experimently.flags.schemas import FlagRead
from experimently.flags.service import _commit_change, _load_for_write, snapshot
from experimently.kit.envelope import Envelope
from experimently.rbac import Permission, require_key_environment
from experimently.runtime import Runtime

router = APIRouter(tags=["sdk"])

# what a browser sees of each flag: never the rule, segment or bucket
_PUBLIC_FIELDS = ("value", "variation", "reason", "error_code", "experiment_key", "experiment_variant")


class ClientVisibility(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_visible: bool
    version: int = Field(description="the flag version this change edits (optimistic concurrency)")


class ClientEvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | int | None = None
    context: dict[str, JsonValue] = Field(default_factory=dict)
    flags: list[str] | None = Field(default=None, max_length=1000, description="only these flag keys")


# ----- repository ---------------------------------------------------------------------------------


async def visible_flag_keys(session: AsyncSession) -> Sequence[str]:
    query = select(Flag.key).where(Flag.client_visible.is_(True), Flag.archived.is_(False))
    return (await session.scalars(query)).all()


# ----- service ------------------------------------------------------------------------------------


async def set_client_visible(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, body: ClientVisibility
) -> Flag:
    flag = await _load_for_write(session, actor, key)
    check_version("flag", flag.key, flag.version, body.version)
    before = snapshot(flag)
    flag.client_visible = body.client_visible
    return await _commit_change(session, cache, actor, flag, before, "flag.client_visibility_changed")


async def evaluate_for_client(
    runtime: Runtime, session: AsyncSession, actor: Actor, body: ClientEvaluateRequest
) -> dict[str, Any]:
    env = require_key_environment(actor, Permission.CLIENT_EVALUATE, "client")
    visible = set(await visible_flag_keys(session))
    if body.flags is not None:
        visible &= set(body.flags)
    context = build_context(body.user_id, body.context)
    engine: FlagEvaluation = runtime.services["flags.evaluation"]
    bridge = runtime.services.get("experiments.bridge")
    via_bridge: set[str] = await bridge.experiment_flags(env) if bridge is not None else set()
    results = await engine.evaluate_all(env, context)
    flags: dict[str, Any] = {}
    for key in sorted(visible & set(results)):
        if key in via_bridge:
            row = await bridge.evaluate_one(env, key, context, None)  # type: ignore[union-attr]
        else:
            row = results[key].to_dict()
        flags[key] = {field: row.get(field) for field in _PUBLIC_FIELDS}
    return {"user_id": body.user_id, "flags": flags}


# ----- CORS for configured origins ----------------------------------------------------------------


def _cors_headers(runtime: Runtime, request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    allowed = {o.strip() for o in runtime.settings.sdk_client_origins.split(",") if o.strip()}
    if origin is None or not (origin in allowed or "*" in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "Content-Type, X-API-Key",
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


# ----- routes -------------------------------------------------------------------------------------


@router.put("/feature-flags/{key}/client-visible", response_model=Envelope[FlagRead])
async def put_client_visible(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: ClientVisibility
) -> Envelope[FlagRead]:
    """Mark a flag visible (or not) to client-side SDK keys; versioned and audited."""
    flag = await set_client_visible(session, runtime.cache, actor, key, body)
    return Envelope(data=FlagRead.model_validate(flag))


@router.options("/sdk/evaluate", include_in_schema=False)
async def evaluate_preflight(request: Request, runtime: RuntimeDep) -> Response:
    return Response(status_code=204, headers=_cors_headers(runtime, request))


@router.post("/sdk/evaluate")
async def client_evaluate(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[ClientEvaluateRequest, Body()],
) -> Response:
    """The evaluated values of the client-visible flags for one context (client-side keys only)."""
    address = request.client.host if request.client else "-"
    await runtime.limiter.hit(runtime.settings.sdk_client_rate_limit, "sdk-client", actor.id, address)
    data = await evaluate_for_client(runtime, session, actor, body)
    response = Response(
        content=Envelope(data=data).model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store", **_cors_headers(runtime, request)},
    )
    return response
