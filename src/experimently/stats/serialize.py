"""JSON-safe dictionaries of results: enums as strings, tuples as lists, never NaN or Infinity."""

from __future__ import annotations

import dataclasses
import math
from enum import Enum

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def to_json_value(value: object) -> JsonValue:
    """Recursively convert a result to JSON-safe values. A non-finite float becomes None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    raise TypeError(f"not serialisable: {type(value).__name__}")


def to_json_dict(result: object) -> dict[str, JsonValue]:
    """A result dataclass as a JSON-safe dict (``json.dumps(..., allow_nan=False)`` always succeeds)."""
    converted = to_json_value(result)
    if not isinstance(converted, dict):
        raise TypeError("to_json_dict expects a result dataclass")
    return converted
