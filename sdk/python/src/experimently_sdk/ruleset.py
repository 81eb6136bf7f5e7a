"""One environment's compiled flags and segments, built from the server's payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compile import CompiledFlag, compile_flag, compile_segment_matcher
from .errors import RuleValidationError
from .operators import Matcher, compile_conditions
from .validate import validate_flag, validate_segment

__all__ = ["Ruleset"]


class Ruleset:
    """Compiled flags (``compiled``), compiled segments (``segment_matchers``) and refusals.

    ``errors`` maps each refused flag key to its validation errors (evaluating it gives reason
    ERROR with code PARSE_ERROR); ``segment_errors`` does the same for refused segments.
    """

    __slots__ = ("compiled", "errors", "segment_errors", "segment_matchers")

    def __init__(
        self,
        compiled: Mapping[str, CompiledFlag],
        segment_matchers: Mapping[str, Matcher],
        errors: Mapping[str, list[tuple[str, str]]] | None = None,
        segment_errors: Mapping[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.compiled: dict[str, CompiledFlag] = dict(compiled)
        self.segment_matchers: dict[str, Matcher] = dict(segment_matchers)
        self.errors: dict[str, list[tuple[str, str]]] = dict(errors or {})
        self.segment_errors: dict[str, list[tuple[str, str]]] = dict(segment_errors or {})

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], *, previous: Ruleset | None = None, strict: bool = False
    ) -> Ruleset:
        """Validate and compile ``{"flags": [...], "segments": [...]}``.

        A flag whose ``(key, version)`` is already compiled in ``previous`` is reused as is (the
        server bumps ``version`` on every change). Invalid flags and segments are left out and
        recorded in ``errors``; with ``strict=True`` they raise ``RuleValidationError`` instead,
        with paths prefixed ``flags[i].`` / ``segments[i].``.
        """
        errors: dict[str, list[tuple[str, str]]] = {}
        segment_errors: dict[str, list[tuple[str, str]]] = {}
        refused: list[tuple[str, str]] = []
        raw_segments = _keyed(payload.get("segments", []), "segments", refused)
        raw_flags = _keyed(payload.get("flags", []), "flags", refused)
        matchers: dict[str, Matcher] = {}
        all_segments = {k: v for k, (_, v) in raw_segments.items()}
        valid_segments: dict[str, Mapping[str, Any]] = {}
        for key, (index, raw) in raw_segments.items():
            try:
                segment = validate_segment(raw, segments=all_segments, check_referrers=False)
            except RuleValidationError as exc:
                segment_errors[key] = exc.errors
                refused.extend((f"segments[{index}].{p}".rstrip("."), m) for p, m in exc.errors)
                continue
            valid_segments[key] = raw
            matchers[key] = compile_segment_matcher(compile_conditions(segment.conditions))
        flags_by_key = {k: v for k, (_, v) in raw_flags.items()}
        compiled: dict[str, CompiledFlag] = {}
        for key, (index, raw) in raw_flags.items():
            reused = _reusable(previous, key, raw)
            if reused is not None:
                compiled[key] = reused
                continue
            try:
                compiled[key] = compile_flag(validate_flag(raw, segments=valid_segments, flags=flags_by_key))
            except RuleValidationError as exc:
                errors[key] = exc.errors
                refused.extend((f"flags[{index}].{p}".rstrip("."), m) for p, m in exc.errors)
        if strict and refused:
            raise RuleValidationError(refused)
        return cls(compiled, matchers, errors, segment_errors)


def _keyed(items: Any, name: str, refused: list[tuple[str, str]]) -> dict[str, tuple[int, Mapping[str, Any]]]:
    if not isinstance(items, list):
        refused.append((name, "must be a list"))
        return {}
    result: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for index, item in enumerate(items):
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str) or not key:
            refused.append((f"{name}[{index}].key", "must be a non-empty string"))
        elif key in result:
            refused.append((f"{name}[{index}].key", f"duplicate key {key!r}"))
        else:
            result[key] = (index, item)
    return result


def _reusable(previous: Ruleset | None, key: str, raw: Mapping[str, Any]) -> CompiledFlag | None:
    if previous is None:
        return None
    old = previous.compiled.get(key)
    if old is None or type(raw.get("version")) is not int or old.version != raw.get("version"):
        return None
    return old
