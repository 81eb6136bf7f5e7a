"""One error type, one envelope: ``{"error": {"code", "message", "details", "request_id",
"documentation_url"}}``; every code has an entry in ``error_docs`` (docs/errors.md)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from experimently import degraded
from experimently.degraded import dependency_of

log = structlog.get_logger(__name__)


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_INVALID = "TOKEN_INVALID"
    MFA_REQUIRED = "MFA_REQUIRED"
    MFA_ENROLMENT_REQUIRED = "MFA_ENROLMENT_REQUIRED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class AppError(Exception):
    """Base of every error a service raises; the global handler renders it."""

    status = 400
    code = ErrorCode.VALIDATION_ERROR

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: ErrorCode | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}


class NotFound(AppError):
    status = 404
    code = ErrorCode.RESOURCE_NOT_FOUND

    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(
            f"{resource} '{identifier}' not found", details={"resource": resource, "id": str(identifier)}
        )


class Conflict(AppError):
    status = 409
    code = ErrorCode.CONFLICT


def check_version(resource: str, key: str, current: int, given: int) -> None:
    """Optimistic concurrency: an update names the version it edits; a stale one is 409 CONFLICT."""
    if current != given:
        raise Conflict(
            f"{resource} '{key}' changed since version {given}; reload and retry",
            details={"current_version": current, "given_version": given},
        )


class InvalidTransition(AppError):
    status = 409
    code = ErrorCode.INVALID_STATE_TRANSITION


class PermissionDenied(AppError):
    status = 403
    code = ErrorCode.PERMISSION_DENIED


class AuthenticationRequired(AppError):
    status = 401
    code = ErrorCode.AUTHENTICATION_REQUIRED

    def __init__(self, message: str = "authentication required", *, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class ValidationFailed(AppError):
    """A payload that parsed but breaks a rule; ``errors`` carry exact field paths."""

    status = 422
    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, details={"errors": errors or []})


class RateLimited(AppError):
    status = 429
    code = ErrorCode.RATE_LIMIT_EXCEEDED

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "rate limit exceeded; retry later",
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(AppError):
    status = 503
    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(
            message, details={"retry_after_seconds": retry_after}, headers={"Retry-After": str(retry_after)}
        )


_DOCS_BASE = ["/api/errors"]  # set once from EXPERIMENTLY_ERRORS_DOCS_URL by install_error_handlers


def documentation_url(code: str) -> str:
    return f"{_DOCS_BASE[0]}#{code.lower()}"


def error_body(
    code: str, message: str, request_id: str | None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id,
            "documentation_url": documentation_url(code),
        }
    }


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "rules", 2, "conditions", 0)`` -> ``rules[2].conditions[0]``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _render(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def app_error_response(exc: AppError, request_id: str | None) -> JSONResponse:
    """The answer to an ``AppError``: its status, the envelope and its headers (the global handler's,
    and the HTTP fast path's: ``experimently.fastpath``)."""
    return _render(exc.status, error_body(exc.code, exc.message, request_id, exc.details), exc.headers)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(exc, _request_id(request))


def _describe(err: Any) -> dict[str, str]:
    kind = str(err.get("type", ""))
    if kind == "json_invalid":  # loc holds the character offset, not a field
        where = err.get("loc", ("body", 0))[-1]
        return {"path": "body", "message": f"malformed JSON at character {where}", "type": kind}
    return {"path": field_path(err.get("loc", ())), "message": str(err.get("msg", "invalid")), "type": kind}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(err) for err in exc.errors()]
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type and any(e["path"] == "body" for e in errors):
        # `curl -d '{...}'` sends application/x-www-form-urlencoded: the JSON is read as a form field
        got = content_type or "none"
        hint = f"the body must be JSON sent with Content-Type: application/json (got {got})"
        errors = [e | {"message": f"{e['message']}: {hint}"} if e["path"] == "body" else e for e in errors]
    body = error_body(
        ErrorCode.VALIDATION_ERROR, "request validation failed", _request_id(request), {"errors": errors}
    )
    return _render(422, body)


_HTTP_CODES = {
    404: (ErrorCode.ROUTE_NOT_FOUND, "no such route"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "method not allowed on this route"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "request body too large"),
    401: (ErrorCode.AUTHENTICATION_REQUIRED, "authentication required"),
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (ErrorCode.VALIDATION_ERROR, str(exc.detail)))
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        # FastAPI's words when the JSON parser gives up other than on a syntax error: nesting too deep
        message = "the body could not be read as JSON: nested too deeply (or not JSON at all)"
    if exc.status_code >= 500:
        code, message = ErrorCode.INTERNAL_ERROR, "internal error"
    body = error_body(code, message, _request_id(request))
    return _render(exc.status_code, body, dict(exc.headers or {}))


# seconds: a floor, not a schedule. A restarted PostgreSQL or Redis is often back within a second or
# two, and clients back off exponentially (with jitter) beyond this on their own; a longer value would
# keep every client waiting after a short restart (measured by bench/faults.py)
DEPENDENCY_RETRY_AFTER = 1


class _Throttle:
    """One log line per dependency per ``interval`` seconds: an outage answered 503 to a thousand
    requests a second is a line every ten seconds, saying how many answers it stands for, not a
    thousand lines a second (the state changes are ``dependency.down``/``.up``, logged once each)."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def note(self, dependency: str) -> dict[str, float] | None:
        now = time.monotonic()
        self._count[dependency] = self._count.get(dependency, 0) + 1
        if now < self._next.get(dependency, 0.0):
            return None
        self._next[dependency] = now + self.interval
        return {"answers_503": self._count.pop(dependency), "interval_seconds": self.interval}

    def rest(self, dependency: str) -> int:
        """The answers noted since the last line (the dependency is back: they are said now, not at the
        next outage, where they would be counted with it); 0 when none."""
        self._next.pop(dependency, None)
        return self._count.pop(dependency, 0)


_UNAVAILABLE_LOG = _Throttle()


def _said_when_up(dependency: str) -> None:
    if count := _UNAVAILABLE_LOG.rest(dependency):
        log.warning(
            "request.dependency_unavailable", dependency=dependency, answers_503=count, outage_over=True
        )


degraded.on_up(_said_when_up)


def unavailable_body(
    exc: BaseException, request_id: str | None
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The 503 envelope (and its Retry-After) when ``exc`` means a dependency is unreachable, else None.

    The one place where connection errors (Redis, SQLAlchemy, asyncpg, refused sockets) become
    ``SERVICE_UNAVAILABLE``: whatever code path met the outage, the client is told to retry."""
    dependency = dependency_of(exc)
    if dependency is None:
        return None
    if dependency == degraded.DATABASE:  # the gauge and the down/up lines follow what requests meet
        degraded.mark_down(dependency, exc)  # (the next commit marks it up: Database.transaction)
    summary = _UNAVAILABLE_LOG.note(dependency)
    if summary is not None:  # once per dependency per interval, with how many answers it stands for
        log.warning("request.dependency_unavailable", dependency=dependency, error=repr(exc), **summary)
    body = error_body(
        ErrorCode.SERVICE_UNAVAILABLE,
        f"a dependency ({dependency}) is unavailable; retry later",
        request_id,
        {"dependency": dependency, "retry_after_seconds": DEPENDENCY_RETRY_AFTER},
    )
    return body, {"Retry-After": str(DEPENDENCY_RETRY_AFTER)}


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    unavailable = unavailable_body(exc, _request_id(request))
    if unavailable is not None:
        return _render(503, unavailable[0], unavailable[1])
    log.error("request.unhandled_error", error=repr(exc), exc_info=exc)
    body = error_body(ErrorCode.INTERNAL_ERROR, "internal error", _request_id(request))
    return _render(500, body)


def install_error_handlers(app: FastAPI, docs_base: str | None = None) -> None:
    if docs_base:
        _DOCS_BASE[0] = docs_base.rstrip("#")
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)


# --- the error answers each operation declares in OpenAPI -------------------------------------------


class ErrorInfo(BaseModel):
    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None
    documentation_url: str = Field(description="the error code's cause and remedy (`/api/errors#<code>`)")


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer: ``{"error": {"code", "message", "details", "request_id"}}``."""

    error: ErrorInfo


_WHEN = {
    401: "no credentials, or invalid or expired ones (`AUTHENTICATION_REQUIRED`, `TOKEN_INVALID`)",
    403: "authenticated, but the role, scope or key environment does not allow it (`PERMISSION_DENIED`)",
    404: "the resource named in the path does not exist (`RESOURCE_NOT_FOUND`)",
    409: "a stale `version`, a duplicate key, a resource still in use or a refused lifecycle transition",
    413: "the request body is larger than `MAX_BODY_BYTES` (`PAYLOAD_TOO_LARGE`)",
    422: "the body does not match the schema or breaks a rule (`VALIDATION_ERROR`, `details.errors`)",
    429: "rate limited (`RATE_LIMIT_EXCEEDED`); `Retry-After` says when to come back",
    503: "a dependency is down or the event queue is full; `Retry-After` says when to retry",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an operation or a router: the error envelope under each status."""
    return {status: {"model": ErrorEnvelope, "description": _WHEN[status]} for status in statuses}
