"""The HTTP fast path: the hot data-plane endpoints answered without FastAPI's routing and dependency
resolution (docs/adr/0005-http-fast-path.md).

A pure-ASGI layer just in front of the FastAPI router (inside the request middleware, the input guard
and CORS, so request ids, security headers, body limits, metrics and the access log apply unchanged).
It recognises exactly these requests by method and path, when they carry ``X-API-Key``:

- ``POST /api/v1/feature-flags/{key}/evaluate`` and ``POST /api/v1/feature-flags/evaluate/batch``;
- ``GET /api/v1/sdk/flags`` (the SDK payload) and ``POST /api/v1/sdk/evaluate`` (client-side keys);
- ``POST /api/v1/experiments/{key}/assign``.

For them it does what FastAPI's dependency injection does (verify the key and count it against the
rate limit: ``auth.deps.api_key_actor``; parse and validate the body with the route's own model; open
the request's unit of work) and then calls **the route's own endpoint function**, so the service
calls, permission checks and response shapes are the FastAPI route's by construction. Anything else
(no API key, another content type, an empty, malformed or invalid body, a path FastAPI would not
match the same way) goes to FastAPI untouched, with the body replayed: the 422 answers are FastAPI's
own. Service errors (``AppError``) are rendered by the same function as the global handler; any other
exception propagates to the same outer handler as from a FastAPI route (503 for a dependency outage).
``tests/foundation/test_fastpath.py`` compares every answer with the FastAPI route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from experimently.actor import Actor
from experimently.auth.deps import api_key_actor
from experimently.errors import AppError, app_error_response
from experimently.experiments import router as experiments_routes
from experimently.experiments.schemas import AssignmentRead, AssignRequest
from experimently.flags import router as flags_routes
from experimently.flags.schemas import BatchEvaluateRequest, EvaluateRequest
from experimently.kit.asgi import read_body, replay
from experimently.kit.envelope import Envelope
from experimently.runtime import Runtime
from experimently.sdk import client_side

__all__ = ["FastPathMiddleware"]

API = "/api/v1"
FLAGS = f"{API}/feature-flags/"
EXPERIMENTS = f"{API}/experiments/"
BATCH = f"{API}/feature-flags/evaluate/batch"
SDK_FLAGS = f"{API}/sdk/flags"
SDK_EVALUATE = f"{API}/sdk/evaluate"
_EVALUATE_SUFFIX = "/evaluate"
_ASSIGN_SUFFIX = "/assign"
# FastAPI serializes a response model with the route's TypeAdapter (``dump_json``); the same here
_ASSIGNMENT = TypeAdapter(Envelope[AssignmentRead])


@dataclass(frozen=True, slots=True)
class Call:
    """What an endpoint needs: the runtime, the actor, the path parameter, the parsed body and the
    ASGI request (for the endpoints that read headers or the client address)."""

    runtime: Runtime
    actor: Actor
    key: str
    body: Any
    scope: Scope
    receive: Receive


Handler = Callable[[Call], Awaitable[Response]]


async def _evaluate(call: Call) -> Response:
    return await flags_routes.evaluate_post(call.actor, call.runtime, call.key, call.body)


async def _batch(call: Call) -> Response:
    return await flags_routes.evaluate_batch_endpoint(call.actor, call.runtime, call.body)


async def _sdk_flags(call: Call) -> Response:
    return await flags_routes.sdk_flags(Request(call.scope, call.receive), call.actor, call.runtime)


async def _client_evaluate(call: Call) -> Response:
    request = Request(call.scope, call.receive)
    async with call.runtime.db.transaction() as session:  # as deps.get_session: commit or roll back
        return await client_side.client_evaluate(request, call.actor, session, call.runtime, call.body)


async def _assign(call: Call) -> Response:
    # the route opens no request session: a repeat needs no database, a first assignment is
    # group-committed by the assigner
    envelope = await experiments_routes.assign(call.actor, call.runtime, call.key, call.body)
    return Response(_ASSIGNMENT.dump_json(envelope), media_type="application/json")


@dataclass(frozen=True, slots=True)
class Route:
    """One fast route. It stands as ``scope["route"]`` while it answers: ``path`` is the FastAPI
    route's path template, the metrics label ``middleware.route_template`` reads."""

    path: str
    method: str
    body: type[BaseModel] | None
    handler: Handler


EVALUATE = Route(f"{FLAGS}{{key}}/evaluate", "POST", EvaluateRequest, _evaluate)
EVALUATE_BATCH = Route(BATCH, "POST", BatchEvaluateRequest, _batch)
PAYLOAD = Route(SDK_FLAGS, "GET", None, _sdk_flags)
CLIENT_EVALUATE = Route(SDK_EVALUATE, "POST", client_side.ClientEvaluateRequest, _client_evaluate)
ASSIGN = Route(f"{EXPERIMENTS}{{key}}/assign", "POST", AssignRequest, _assign)
ROUTES = (EVALUATE, EVALUATE_BATCH, PAYLOAD, CLIENT_EVALUATE, ASSIGN)


def _segment(path: str, prefix: str, suffix: str) -> str | None:
    """The ``{key}`` of ``prefix{key}suffix`` as Starlette matches it (one non-empty segment)."""
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    key = path[len(prefix) : len(path) - len(suffix)]
    return key if key and "/" not in key else None


def match(method: str, path: str) -> tuple[Route, str] | None:
    """The fast route for exactly this method and path, with its path parameter ("" when none)."""
    if method == "POST":
        if path == BATCH:
            return EVALUATE_BATCH, ""
        if path == SDK_EVALUATE:
            return CLIENT_EVALUATE, ""
        key = _segment(path, FLAGS, _EVALUATE_SUFFIX)
        if key is not None:
            return EVALUATE, key
        key = _segment(path, EXPERIMENTS, _ASSIGN_SUFFIX)
        if key is not None:
            return ASSIGN, key
    elif method == "GET" and path == SDK_FLAGS:
        return PAYLOAD, ""
    return None


def _headers(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """``X-API-Key`` and ``Content-Type`` (the first of each, as Starlette's ``Headers.get``)."""
    api_key = content_type = None
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            if api_key is None:
                api_key = value
        elif name == b"content-type" and content_type is None:
            content_type = value
    return api_key, content_type


def _is_json(content_type: bytes | None) -> bool:
    """FastAPI parses the body as JSON when there is no content type or it is ``application/json``
    (``+json`` suffixes and other spellings go to FastAPI itself)."""
    if content_type is None:
        return True
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class FastPathMiddleware:
    """Answers the routes of ``ROUTES`` directly; everything else goes to ``app`` (FastAPI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answered = 0  # requests this layer answered itself (the differential tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if found is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        route, key = found
        api_key, content_type = _headers(scope)
        if not api_key or (route.body is not None and not _is_json(content_type)):
            await self.app(scope, receive, send)
            return
        body: Any = None
        if route.body is not None:
            messages, raw = await read_body(receive)
            body = _parse(route.body, raw) if messages[-1]["type"] == "http.request" else None
            if body is None:  # FastAPI answers (422 with its own wording, or whatever it decides)
                await self.app(scope, replay(messages, receive), send)
                return
        self.answered += 1
        runtime: Runtime = scope["app"].state.runtime
        scope["route"] = route  # the metrics label, as FastAPI's matched route would give it
        scope["path_params"] = {"key": key} if key else {}
        try:
            actor = await api_key_actor(runtime, api_key.decode("latin-1"))
            response = await route.handler(Call(runtime, actor, key, body, scope, receive))
        except AppError as exc:
            request_id = (scope.get("state") or {}).get("request_id")
            response = app_error_response(exc, request_id)
        await response(scope, receive, send)


def _parse(model: type[BaseModel], raw: bytes) -> BaseModel | None:
    """The body as the route's model, or None for anything FastAPI must answer itself.

    Parsed and validated in one step by pydantic's JSON parser (~2.5 us less than ``json.loads``
    then ``model_validate``). It is strict JSON: where it refuses a document Python's parser takes
    (``NaN``, other encodings than UTF-8), FastAPI answers, as for any body this layer does not
    take; a document both accept gives the same model."""
    if not raw:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None
