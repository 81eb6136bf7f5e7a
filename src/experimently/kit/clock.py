"""The one clock. Tests replace it (the clock is outside us); code never calls datetime.now directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Install a clock function (tests); ``None`` restores the wall clock."""
    global _now
    _now = fn if fn is not None else (lambda: datetime.now(UTC))


def ensure_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as every answer of the API writes an instant (pydantic does for the
    fields it serialises; this is for instants kept in JSON documents and dicts)."""
    text = ensure_utc(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Instants as integer microseconds since the Unix epoch (UTC): how events and statistics store time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000  # one day in microseconds


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)
