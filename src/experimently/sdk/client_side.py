"""Client-side SDKs (browsers, mobile apps): keys of the `client` scope never see rules or segments.

They may only call ``POST /sdk/evaluate``: the evaluated values of the flags marked client-visible, for
one context. The server evaluates (and, for flags serving experiments, assigns and records the exposure
as for any evaluation). Marking a flag client-visible is a versioned, audited flag change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from experimently.actor import Actor
from experimently.auth.deps import ActorDep
from experimently.cache import Cache
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import check_version
from experimently.flags import repository as flags_repository
from experimently.flags.evaluation import build_context
from experimently.flags.models import Flag
from experimently.flags.schemas import FlagRead, UnitValue
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
    version: int = Field(
        ge=1, strict=True, description="the flag version this change edits (optimistic concurrency)"
    )


class ClientEvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UnitValue = None
    context: dict[str, JsonValue] = Field(default_factory=dict)
    flags: list[str] | None = Field(default=None, max_length=1000, description="only these flag keys")


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
    visible = set(await flags_repository.client_visible_keys(session))
    if body.flags is not None:
        visible &= set(body.flags)
    context = build_context(body.user_id, body.context)
    handoff = runtime.experiment_handoff
    served = (await runtime.flags.snapshot(env)).experiments if handoff is not None else {}
    results = await runtime.flags.evaluate_all(env, context)
    flags: dict[str, Any] = {}
    for key in sorted(visible & set(results)):
        experiments = served.get(key)
        if experiments and handoff is not None:  # the server assigns and records the exposure
            row = await handoff.evaluate_flag(env, key, experiments, context, None)
        else:
            row = results[key].to_dict()
        flags[key] = {field: row.get(field) for field in _PUBLIC_FIELDS}
    return {"user_id": body.user_id, "flags": flags}


# ----- CORS for configured origins ----------------------------------------------------------------

CLIENT_PATHS = frozenset({"/api/v1/sdk/evaluate", "/api/v1/events/batch"})


class ClientCorsMiddleware:
    """CORS for the two endpoints a browser SDK calls, for EXPERIMENTLY_SDK_CLIENT_ORIGINS only
    (answers preflights; adds the headers to every answer, errors and 429s included)."""

    def __init__(self, app: ASGIApp, origins: str) -> None:
        self.app = app
        self.origins = frozenset(o.strip() for o in origins.split(",") if o.strip())

    def _headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-headers", b"Content-Type, X-API-Key"),
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-expose-headers", b"Retry-After"),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in CLIENT_PATHS:
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is None or not (origin in self.origins or "*" in self.origins):
            await self.app(scope, receive, send)
            return
        extra = self._headers(origin)
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                if b"access-control-allow-origin" not in present:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


# ----- routes -------------------------------------------------------------------------------------


@router.put("/feature-flags/{key}/client-visible", response_model=Envelope[FlagRead])
async def put_client_visible(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: ClientVisibility
) -> Envelope[FlagRead]:
    """Mark a flag visible (or not) to client-side SDK keys; versioned and audited."""
    flag = await set_client_visible(session, runtime.cache, actor, key, body)
    return Envelope(data=FlagRead.model_validate(flag))


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
        headers={"Cache-Control": "no-store"},
    )
    return response
