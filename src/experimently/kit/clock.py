"""The one clock. Tests replace it (the clock is outside us); code never calls datetime.now directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Install a clock function (tests); ``None`` restores the wall clock."""
    global _now
    _now = fn if fn is not None else (lambda: datetime.now(UTC))


def ensure_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
