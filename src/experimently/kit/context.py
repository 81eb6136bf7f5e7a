"""Per-request context (request id, client ip, user agent) carried in a contextvar for the audit trail."""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple


class RequestContext(NamedTuple):
    """Immutable; a named tuple, not a frozen dataclass: one is built per request, and a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__`` (~1 us here)."""

    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


_current: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> None:
    _current.set(ctx)
