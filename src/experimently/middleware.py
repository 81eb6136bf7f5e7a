"""One pure-ASGI middleware (cheap on the hot path): request id, body size limit, security headers,
Prometheus metrics by route template, and one structured log line per request."""

from __future__ import annotations

import functools
import json
import random
import re
import secrets
import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from experimently.config import Settings
from experimently.errors import ErrorCode, error_body, unavailable_body
from experimently.kit.context import RequestContext, set_current
from experimently.kit.metrics import incrementer, observer

log = structlog.get_logger("experimently.http")
REQUESTS = Counter("experimently_http_requests_total", "HTTP requests", ["method", "route", "status"])
DURATION = Histogram(
    "experimently_http_request_duration_seconds",
    "HTTP request duration",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


@functools.cache
def _metrics(method: str, template: str, status: str) -> tuple[Any, Any]:
    """The request counter's increment and the duration histogram's observation of one (method, route,
    status), kept (``labels()`` locks and checks its arguments on every call; ``kit.metrics``); as
    bounded as the labels themselves."""
    return incrementer(REQUESTS.labels(method, template, status)), observer(DURATION.labels(method, template))


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A request id is this process's random 64-bit prefix and 64 bits from a generator seeded from the OS,
# 32 hex digits as a UUID's: no uuid4 per request (a getrandom system call and an object, ~3% of an
# evaluation's CPU). Ids are correlation handles, never secrets; not a counter, so they do not tell a
# client how many requests the process has served.
_ID_PREFIX = secrets.token_hex(8)
_ID_BITS = random.Random(secrets.randbits(128))  # unpredictable enough for a log id


def new_request_id() -> str:
    return f"{_ID_PREFIX}{_ID_BITS.getrandbits(64):016x}"


API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Routes that answer with a stream open for as long as the client stays (Server-Sent Events): counted,
# but kept out of the duration histogram, whose percentiles (and the latency alert) they would swamp.
STREAMS = frozenset({"/api/v1/sdk/stream"})


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/api/v1/flags/{key}``), never the raw path, so metric
    labels stay bounded. FastAPI keeps the prefixed template of included routers in its scope entry."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else "<unmatched>"


class RequestMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.access_log = settings.access_log
        base = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if settings.hsts:
            base.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        self.security_headers = base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = user_agent = length = None
        for key, value in scope["headers"]:  # one pass for the three headers read here (first of each)
            if key == b"x-request-id":
                if incoming is None:
                    incoming = value.decode("latin-1")
            elif key == b"user-agent":
                if user_agent is None:
                    user_agent = value.decode("latin-1")
            elif key == b"content-length" and length is None:
                length = value.decode("latin-1")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else new_request_id()
        client = scope.get("client")
        # the log lines of the request carry its id from this context (logging_setup.add_request_id)
        set_current(RequestContext(request_id, client[0] if client else None, user_agent))
        scope.setdefault("state", {})["request_id"] = request_id
        if length and length.isdigit() and int(length) > self.max_body:
            await self._reject_too_large(send, request_id)
            self._finish(scope, 413, started, request_id)
            return
        status = 500
        csp = API_CSP  # pages (console, API docs) set their own policy; API answers get this one
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413)
            return message

        status_sent = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = message["status"]
                status_sent = True
                headers = list(message.get("headers", []))
                own_policy = False  # a loop, not any() over a generator: this runs on every answer
                for key, _ in headers:
                    if key == b"content-security-policy":
                        own_policy = True
                        break
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(self.security_headers)
                if not own_policy:
                    headers.append((b"content-security-policy", csp))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception as exc:  # an error no handler rendered: still the envelope, the id and the headers
            unavailable = unavailable_body(exc, request_id)
            if unavailable is None:
                log.error("request.unhandled_error", error=repr(exc), exc_info=exc)
            if status_sent:
                raise
            status = 500 if unavailable is None else 503
            if unavailable is None:
                payload = error_body(ErrorCode.INTERNAL_ERROR, "internal error", request_id)
                extra: list[tuple[bytes, bytes]] = []
            else:
                payload = unavailable[0]
                extra = [(k.lower().encode(), v.encode()) for k, v in unavailable[1].items()]
            body = json.dumps(payload).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json"), *extra],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self._finish(scope, status, started, request_id)

    async def _reject_too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            error_body(ErrorCode.PAYLOAD_TOO_LARGE, "request body too large", request_id)
        ).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"x-request-id", request_id.encode()),
            *self.security_headers,
            (b"content-security-policy", API_CSP),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _finish(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        template = route_template(scope)
        method = scope["method"]
        count, observe = _metrics(method, template, str(status))
        count(1)
        if template not in STREAMS:  # a stream's lifetime (hours) is no request latency
            observe(elapsed)
        if self.access_log:
            log.info(
                "request.completed",
                request_id=request_id,
                method=method,
                route=template,
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 3),
            )
