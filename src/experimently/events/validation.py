"""Per-event validation on the hot path: plain dict checks, no model per event (measured: a pydantic
model per event costs more than the rest of the request). Each event becomes an :class:`EventRow` or
a rejection naming the field and the reason; one bad event never affects its neighbours.

``properties`` are measured as compact JSON by orjson (~14x faster than the standard encoder); any
case where its answer could differ from the standard library's (NaN and infinities, which orjson
writes as ``null``; NUL; non-ASCII text, which it does not escape; integers beyond 64 bits and lone
surrogates, which it refuses) goes through :func:`_properties_exact`, the standard library's answer."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from experimently.config import Settings
from experimently.kit.clock import DAY_US, to_us
from experimently_sdk.ids import time_ordered_id

FIELDS = frozenset(
    {"event_id", "name", "user_id", "experiment_key", "variant", "value", "properties", "timestamp"}
)
_LIMITS = {"event_id": 128, "name": 100, "user_id": 200, "experiment_key": 100, "variant": 100}
# One encoder for the size check (``json.dumps`` with options builds a new encoder on every call).
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_COMPACT_UTF8 = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # \u0000 not itself escaped
_UNSTORABLE = "must not contain NUL or unpaired surrogate characters"


def storable(value: str) -> bool:
    """PostgreSQL text and jsonb refuse NUL and unpaired surrogates; an accepted event holding one
    could never be written (and would hold its batch back), so validation refuses it on both backends."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _storable_json(raw: dict[str, Any], ascii_json: str) -> bool:
    if "\\u" not in ascii_json:  # no escape at all: plain ASCII without NUL
        return True
    if _NUL_ESCAPE.search(ascii_json):
        return False
    return storable(_COMPACT_UTF8.encode(raw))


class Rejected(ValueError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class EventRow(NamedTuple):
    """One validated event, ready for the queue and the writer. A tuple, so a list of rows is its own
    wire form: ``json.dumps(rows)`` is the stream message, one array per event in field order."""

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
    if not storable(value):
        raise Rejected(field, _UNSTORABLE)
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
        fast = orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return _properties_exact(raw, max_bytes)
    # plain ASCII without null (NaN and infinities become null) or NUL: the standard encoder writes
    # the same text, but for a float's exponent ("1e-5" against "1e-05")
    if b"null" in fast or b"\\u0000" in fast or not fast.isascii():
        return _properties_exact(raw, max_bytes)
    if len(fast) > max_bytes:
        raise Rejected("properties", f"must be at most {max_bytes} bytes as JSON")
    return raw


def _properties_exact(raw: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    try:
        encoded = _COMPACT.encode(raw)
    except RecursionError:
        raise Rejected("properties", "nested too deeply") from None
    except (ValueError, TypeError):
        raise Rejected("properties", "must be plain JSON without NaN or Infinity") from None
    if len(encoded) > max_bytes:
        raise Rejected("properties", f"must be at most {max_bytes} bytes as JSON")
    if not _storable_json(raw, encoded):
        raise Rejected("properties", _UNSTORABLE)
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
    if ts < received_us - settings.event_max_age_days * DAY_US:
        raise Rejected("timestamp", f"is older than {settings.event_max_age_days} days")
    return ts


def validate_event(event: Any, *, environment: str | None, received_us: int, settings: Settings) -> EventRow:
    """One event dict to a row, or :class:`Rejected` with the offending field.

    The common case (every field present is well-formed) is checked inline; anything else goes
    through :func:`_validate_fields`, which names the first offending field."""
    if type(event) is dict and FIELDS.issuperset(event):
        get = event.get
        name, user_id, event_id = get("name"), get("user_id"), get("event_id")
        experiment_key, variant, value = get("experiment_key"), get("variant"), get("value")
        if (
            type(name) is str
            and 0 < len(name) <= 100
            and type(user_id) is str
            and 0 < len(user_id) <= 200
            and (event_id is None or (type(event_id) is str and 0 < len(event_id) <= 128))
            and (experiment_key is None or (type(experiment_key) is str and 0 < len(experiment_key) <= 100))
            and (variant is None or (type(variant) is str and 0 < len(variant) <= 100))
            and (value is None or ((type(value) is float or type(value) is int) and math.isfinite(value)))
            and storable(name + user_id + (event_id or "") + (experiment_key or "") + (variant or ""))
        ):
            properties = get("properties")
            if properties is None:
                properties = {}
            else:
                properties = _properties(properties, settings.event_max_properties_bytes)
            timestamp = get("timestamp")
            return EventRow(
                event_id or time_ordered_id(),
                name,
                user_id,
                environment,
                experiment_key,
                variant,
                None if value is None else float(value),
                properties,
                received_us if timestamp is None else _timestamp(timestamp, received_us, settings),
                received_us,
            )
    return _validate_fields(event, environment=environment, received_us=received_us, settings=settings)


def _validate_fields(
    event: Any, *, environment: str | None, received_us: int, settings: Settings
) -> EventRow:
    """Field by field, in a fixed order, so the rejection names the first offending field."""
    if not isinstance(event, dict):
        raise Rejected("", "event must be an object")
    unknown = event.keys() - FIELDS
    if unknown:
        raise Rejected(sorted(unknown)[0], "unknown field")
    name = _text(event, "name", True)
    user_id = _text(event, "user_id", True)
    assert name is not None and user_id is not None
    return EventRow(
        event_id=_text(event, "event_id", False) or time_ordered_id(),
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


FLAG_EXPOSURE = "flag_exposure"


def flag_exposure(row: EventRow) -> EventRow:
    """A ``flag_exposure`` event (``properties.flag`` and ``properties.variation``: which variation of
    which flag the unit was served) is stored with the flag key as ``experiment_key`` and the variation
    as ``variant``, so the aggregation reads it like an experiment's exposure (indexed, no JSON)."""
    if row.experiment_key is not None:
        return row
    for field in ("flag", "variation"):
        value = row.properties.get(field)
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            raise Rejected(
                f"properties.{field}", "a flag_exposure needs it as a string of 1 to 100 characters"
            )
    return row._replace(experiment_key=row.properties["flag"], variant=row.properties["variation"])
