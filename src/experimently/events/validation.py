"""Per-event validation on the hot path: plain dict checks, no model per event (measured: a pydantic
model per event costs more than the rest of the request). Each event becomes an :class:`EventRow` or
a rejection naming the field and the reason; one bad event never affects its neighbours."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from experimently.config import Settings

FIELDS = frozenset(
    {"event_id", "name", "user_id", "experiment_key", "variant", "value", "properties", "timestamp"}
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LIMITS = {"event_id": 128, "name": 100, "user_id": 200, "experiment_key": 100, "variant": 100}


class Rejected(ValueError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventRow:
    """One validated event, ready for the queue and the writer."""

    event_id: str
    name: str
    user_id: str
    environment: str | None
    experiment_key: str | None
    variant: str | None
    value: float | None
    properties: dict[str, Any]
    ts_us: int
    received_us: int

    def to_wire(self) -> list[Any]:
        return [
            self.event_id,
            self.name,
            self.user_id,
            self.environment,
            self.experiment_key,
            self.variant,
            self.value,
            self.properties,
            self.ts_us,
            self.received_us,
        ]

    @classmethod
    def from_wire(cls, item: list[Any]) -> EventRow:
        return cls(*item)


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def _text(event: dict[str, Any], field: str, required: bool) -> str | None:
    value = event.get(field)
    if value is None:
        if required:
            raise Rejected(field, "is required")
        return None
    if not isinstance(value, str) or not value:
        raise Rejected(field, "must be a non-empty string")
    if len(value) > _LIMITS[field]:
        raise Rejected(field, f"must be at most {_LIMITS[field]} characters")
    return value


def _value(raw: Any) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise Rejected("value", "must be a finite number")
    return float(raw)


def _properties(raw: Any, max_bytes: int) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Rejected("properties", "must be an object")
    try:
        size = len(json.dumps(raw, separators=(",", ":"), allow_nan=False))
    except (ValueError, TypeError):
        raise Rejected("properties", "must be plain JSON without NaN or Infinity") from None
    if size > max_bytes:
        raise Rejected("properties", f"must be at most {max_bytes} bytes as JSON")
    return raw


def _timestamp(raw: Any, received_us: int, settings: Settings) -> int:
    if raw is None:
        return received_us
    if not isinstance(raw, str):
        raise Rejected("timestamp", "must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Rejected("timestamp", "must be an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise Rejected("timestamp", "must carry a time zone (e.g. Z)")
    ts = to_us(moment)
    if ts > received_us + settings.event_max_future_seconds * 1_000_000:
        raise Rejected("timestamp", f"is more than {settings.event_max_future_seconds}s in the future")
    if ts < received_us - settings.event_max_age_days * 86_400_000_000:
        raise Rejected("timestamp", f"is older than {settings.event_max_age_days} days")
    return ts


def validate_event(event: Any, *, environment: str | None, received_us: int, settings: Settings) -> EventRow:
    """One event dict to a row, or :class:`Rejected` with the offending field."""
    if not isinstance(event, dict):
        raise Rejected("", "event must be an object")
    unknown = event.keys() - FIELDS
    if unknown:
        raise Rejected(sorted(unknown)[0], "unknown field")
    name = _text(event, "name", True)
    user_id = _text(event, "user_id", True)
    assert name is not None and user_id is not None
    return EventRow(
        event_id=_text(event, "event_id", False) or uuid.uuid4().hex,
        name=name,
        user_id=user_id,
        environment=environment,
        experiment_key=_text(event, "experiment_key", False),
        variant=_text(event, "variant", False),
        value=_value(event.get("value")),
        properties=_properties(event.get("properties"), settings.event_max_properties_bytes),
        ts_us=_timestamp(event.get("timestamp"), received_us, settings),
        received_us=received_us,
    )
