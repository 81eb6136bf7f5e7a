"""Which dependency is down, said once in one place: a gauge, a log line on each change, and the
classification of the exceptions that mean "a dependency is unreachable" (answered 503, never 500).

``experimently_degraded{dependency="redis"|"database"}`` is 1 while this process is serving without
that dependency (from what it holds), 0 otherwise. ``mark_down``/``mark_up`` log ``dependency.down``
and ``dependency.up`` only when the state changes, so an outage costs two log lines, not one per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from prometheus_client import Gauge

log = structlog.get_logger(__name__)

REDIS = "redis"
DATABASE = "database"

DEGRADED = Gauge(
    "experimently_degraded",
    "1 while a process of this instance serves without a dependency (redis, database), else 0",
    ["dependency"],
    # across the processes of ``serve --workers N``: the highest of the live ones (a worker that died
    # is marked dead by the parent and no longer counts)
    multiprocess_mode="livemax",
)
for _dependency in (REDIS, DATABASE):
    DEGRADED.labels(_dependency).set(0)

_down_since: dict[str, float] = {}


class DatabaseTimeout(Exception):
    """The database did not answer a look-up in time (it hangs rather than refusing): an outage."""


def mark_down(dependency: str, error: BaseException | str) -> None:
    if dependency not in _down_since:
        _down_since[dependency] = time.monotonic()
        DEGRADED.labels(dependency).set(1)
        log.warning("dependency.down", dependency=dependency, error=repr(error))


def mark_up(dependency: str) -> None:
    since = _down_since.pop(dependency, None)
    if since is not None:
        DEGRADED.labels(dependency).set(0)
        log.info("dependency.up", dependency=dependency, down_seconds=round(time.monotonic() - since, 3))
        for listener in _on_up:
            listener(dependency)


# called with the dependency when it is marked up (errors.py: the outage's last 503s are logged then)
_on_up: list[Callable[[str], object]] = []


def on_up(listener: Callable[[str], object]) -> None:
    _on_up.append(listener)


def is_down(dependency: str) -> bool:
    return dependency in _down_since


def _classify_one(exc: BaseException) -> str | None:
    # imported here: this module is imported by errors.py, and these libraries are heavy
    import redis.exceptions as redis_errors
    from sqlalchemy import exc as sa_errors

    if isinstance(exc, DatabaseTimeout):
        return DATABASE
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return REDIS
    if isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(("LOADING", "MASTERDOWN")):
        return REDIS
    if isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError):
        return DATABASE
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return DATABASE
    if isinstance(exc, sa_errors.TimeoutError):  # pool exhausted while the server does not answer
        return DATABASE
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg ships with the server
        asyncpg = None
    if asyncpg is not None and isinstance(
        exc,
        asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.InterfaceError,
    ):
        return DATABASE
    if isinstance(exc, ConnectionError | TimeoutError):  # OSError family: refused, reset, timed out
        return _raised_by(exc) or "network"
    return None


def _raised_by(exc: BaseException) -> str | None:
    """Which client library a bare socket error came out of (the innermost frame of ``redis`` or of
    ``asyncpg``/``sqlalchemy`` in its traceback): a refused connection to PostgreSQL met by code that
    also talks to Redis is the database's outage, not Redis's."""
    found: str | None = None
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("redis."):
            found = REDIS
        elif module.startswith(("asyncpg", "sqlalchemy.")):
            found = DATABASE
        tb = tb.tb_next
    return found


def dependency_of(exc: BaseException) -> str | None:
    """``"redis"``, ``"database"`` or ``"network"`` when ``exc`` (or what caused it) means a dependency
    is unreachable; ``None`` for any other error. A bare socket error is attributed to the client
    library it was raised in; ``"network"`` only when none of ours is in its traceback."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify_one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None
