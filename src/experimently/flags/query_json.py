"""Bounded JSON nesting for values taken from query strings (parsed outside the request models)."""

from __future__ import annotations

import json
import math
from typing import Any

from experimently.errors import ValidationFailed

__all__ = ["MAX_JSON_DEPTH", "json_depth", "parse_query_json"]

MAX_JSON_DEPTH = 32


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a JSON value (scalars are 0); stops counting past ``limit`` + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a double")
    return value


def parse_query_json(raw: str | None, path: str) -> Any:
    """A query value read as JSON (plain text when it is not JSON); nesting past the bound is a 422.
    ``NaN``, ``Infinity`` and numbers beyond a double (``1e999``), which Python's parser takes but
    no JSON answer could carry, are plain text too."""
    if raw is None:
        return None
    try:
        value = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    except ValueError:
        return raw
    else:
        depth = json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise ValidationFailed(
            f"{path} nests deeper than {MAX_JSON_DEPTH} levels",
            [{"path": path, "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}],
        )
    return value
