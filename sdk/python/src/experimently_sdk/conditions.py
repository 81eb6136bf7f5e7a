"""Save-time parsing and validation of conditions (shared by flags, segments and experiments)."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from .model import CASE_INSENSITIVE_OPERATORS, SEGMENT_OPERATORS, Condition, Operator
from .patterns import check_pattern
from .values import (
    MAX_INSTANT_LENGTH,
    MAX_VERSION_LENGTH,
    is_scalar,
    parse_instant,
    parse_network,
    parse_number,
    parse_semver,
)

__all__ = ["MAX_SEGMENT_DEPTH", "Errors", "SegmentGraph", "parse_conditions"]

MAX_SEGMENT_DEPTH = 16  # segments in the longest in_segment chain (a segment alone is depth 1)

_CONDITION_KEYS = frozenset({"attribute", "operator", "values", "negate", "case_insensitive"})
_NO_VALUE_OPERATORS = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
_SCALAR_OPERATORS = frozenset(
    {Operator.EQ, Operator.NEQ, Operator.IN, Operator.NOT_IN, Operator.CONTAINS_ANY, Operator.CONTAINS_ALL}
)
_NUMERIC_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})
_TEXT_OPERATORS = frozenset(
    {Operator.CONTAINS, Operator.NOT_CONTAINS, Operator.STARTS_WITH, Operator.ENDS_WITH}
)
_SEMVER_OPERATORS = frozenset(
    {Operator.SEMVER_EQ, Operator.SEMVER_GT, Operator.SEMVER_GTE, Operator.SEMVER_LT, Operator.SEMVER_LTE}
)


class Errors:
    """Collects ``(path, message)`` pairs; validation goes on after the first problem."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def __bool__(self) -> bool:
        return bool(self.items)


class SegmentGraph:
    """Segment references taken from raw segment documents, for unknown-key and cycle checks."""

    def __init__(
        self, segments: Mapping[str, Any], *, replacing: str | None = None, check_referrers: bool = True
    ) -> None:
        self.edges: dict[str, list[str]] = {key: segment_references(raw) for key, raw in segments.items()}
        self.replacing = replacing
        self.check_referrers = check_referrers
        self._chains: dict[str, list[str]] = {}

    def set_edges(self, key: str, refs: list[str]) -> None:
        self.edges[key] = refs
        self._chains.clear()

    def check(self, key: str, path: str, errors: Errors) -> None:
        if key != self.replacing and key not in self.edges:
            errors.add(path, f"unknown segment {key!r}")
            return
        cycle = self.find_cycle(key)
        if cycle is not None:
            errors.add(path, "segment reference cycle: " + " -> ".join(cycle))
            return
        chain = ([self.replacing] if self.replacing is not None else []) + self.deepest_chain(key)
        if len(chain) > MAX_SEGMENT_DEPTH:
            errors.add(
                path, f"segments nest more than {MAX_SEGMENT_DEPTH} levels deep: " + " -> ".join(chain)
            )
            return
        if self.replacing is not None and self.check_referrers:
            self._check_referrers(path, errors)

    def _check_referrers(self, path: str, errors: Errors) -> None:
        """Saving ``replacing`` must not push a segment that refers to it past the depth bound."""
        for other in self.edges:
            chain = self.deepest_chain(other)
            if len(chain) > MAX_SEGMENT_DEPTH and self.replacing in chain:
                errors.add(
                    path,
                    f"segments would nest more than {MAX_SEGMENT_DEPTH} levels deep: " + " -> ".join(chain),
                )
                return

    def find_cycle(self, start: str) -> list[str] | None:
        """A reference cycle reachable from ``start`` (iterative: any depth is safe)."""
        trail: list[str] = []
        on_trail: set[str] = set()
        done: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            key, index = stack.pop()
            if index == 0:
                if key in on_trail:
                    return [*trail[trail.index(key) :], key]
                if key in done:
                    continue
                trail.append(key)
                on_trail.add(key)
            refs = self.edges.get(key, [])
            if index < len(refs):
                stack.append((key, index + 1))
                stack.append((refs[index], 0))
            else:
                trail.pop()
                on_trail.discard(key)
                done.add(key)
        return None

    def deepest_chain(self, start: str) -> list[str]:
        """The longest reference chain from ``start`` (iterative; a cycle is cut where it closes)."""
        best = self._chains
        pending: set[str] = set()
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            key, expanded = stack.pop()
            if key in best:
                continue
            refs = self.edges.get(key, [])
            if not expanded:
                if key in pending:
                    continue
                pending.add(key)
                stack.append((key, True))
                stack.extend((r, False) for r in refs if r not in best and r not in pending)
                continue
            longest = max((best.get(r, []) for r in refs), key=len, default=[])
            best[key] = [key, *longest]
        return best[start]


def segment_references(raw: Any) -> list[str]:
    """Segment keys a raw segment document refers to (tolerant of malformed input)."""
    refs: list[str] = []
    conditions = raw.get("conditions") if isinstance(raw, Mapping) else None
    if not isinstance(conditions, list):
        return refs
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("operator") in SEGMENT_OPERATORS:
            values = condition.get("values")
            if isinstance(values, list):
                refs.extend(v for v in values if isinstance(v, str))
    return refs


SegmentCheck = Callable[[str, str, Errors], None]


def parse_conditions(
    raw: Any, path: str, errors: Errors, check_segment: SegmentCheck
) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        errors.add(path, "must be a list of conditions")
        return ()
    parsed = (parse_condition(item, f"{path}[{i}]", errors, check_segment) for i, item in enumerate(raw))
    return tuple(c for c in parsed if c is not None)


def parse_condition(raw: Any, path: str, errors: Errors, check_segment: SegmentCheck) -> Condition | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "must be an object")
        return None
    before = len(errors.items)
    for key in raw:
        if key not in _CONDITION_KEYS:
            errors.add(f"{path}.{key}", "unknown field")
    operator = _operator(raw.get("operator"), f"{path}.operator", errors)
    attribute = _attribute(raw, operator, path, errors)
    negate = _flag(raw, "negate", path, errors)
    case_insensitive = _flag(raw, "case_insensitive", path, errors)
    if operator is not None and case_insensitive and operator not in CASE_INSENSITIVE_OPERATORS:
        errors.add(f"{path}.case_insensitive", f"case_insensitive does not apply to {operator}")
    values = _values(raw, operator, f"{path}.values", errors, check_segment, case_insensitive)
    if len(errors.items) != before or operator is None:
        return None
    return Condition(attribute, operator, values, negate, case_insensitive)


def _operator(raw: Any, path: str, errors: Errors) -> Operator | None:
    if raw is None:
        errors.add(path, "required")
        return None
    try:
        return Operator(raw)
    except ValueError:
        errors.add(path, f"unknown operator {raw!r}")
        return None


def _attribute(raw: Mapping[str, Any], operator: Operator | None, path: str, errors: Errors) -> str:
    attribute = raw.get("attribute")
    if operator in SEGMENT_OPERATORS and attribute in (None, ""):
        return ""  # segment operators ignore the attribute
    if not isinstance(attribute, str) or not attribute:
        errors.add(f"{path}.attribute", "must be a non-empty string")
        return ""
    return attribute


def _flag(raw: Mapping[str, Any], field: str, path: str, errors: Errors) -> bool:
    value = raw.get(field, False)
    if not isinstance(value, bool):
        errors.add(f"{path}.{field}", "must be a boolean")
        return False
    return value


def _values(
    raw: Mapping[str, Any],
    op: Operator | None,
    path: str,
    errors: Errors,
    check_segment: SegmentCheck,
    case_insensitive: bool = False,
) -> tuple[Any, ...]:
    values = raw.get("values", [] if op in _NO_VALUE_OPERATORS else None)
    if not isinstance(values, list):
        errors.add(path, "must be a list")
        return ()
    if op in _NO_VALUE_OPERATORS:
        if values:
            errors.add(path, f"{op} takes no values")
        return ()
    if not values:
        errors.add(path, "must not be empty")
        return ()
    if any(v is None for v in values):
        errors.add(path, "must not contain null")
        return ()
    if op is not None:
        for i, value in enumerate(values):
            problem = _value_problem(op, value, f"{path}[{i}]", errors, check_segment, case_insensitive)
            if problem is not None:
                errors.add(path, f"values[{i}]: {problem}")
    return tuple(values)


def _value_problem(
    op: Operator, value: Any, path: str, errors: Errors, check_segment: SegmentCheck, case_insensitive: bool
) -> str | None:
    if op in _SCALAR_OPERATORS:
        return None if is_scalar(value) else f"{_short(value)} is not a string, finite number or boolean"
    if op in _NUMERIC_OPERATORS:
        if type(value) is float and not math.isfinite(value):  # JSON has none: the payload would not encode
            return f"{_short(value)} is not a finite number"
        number = parse_number(value) if type(value) is not bool else None
        return None if number is not None and not math.isnan(number) else f"{_short(value)} is not a number"
    if not isinstance(value, str) and op not in (Operator.BEFORE, Operator.AFTER):
        return f"{_short(value)} must be a string"
    if op in _TEXT_OPERATORS:
        return None
    if op == Operator.MATCHES:
        return check_pattern(value, case_insensitive=case_insensitive)
    if op in _SEMVER_OPERATORS:
        if len(value) > MAX_VERSION_LENGTH:
            return f"a version is at most {MAX_VERSION_LENGTH} characters"
        return None if parse_semver(value) is not None else f"{value!r} is not a version"
    if op in (Operator.BEFORE, Operator.AFTER):
        if isinstance(value, str) and len(value) > MAX_INSTANT_LENGTH:
            return f"a date is at most {MAX_INSTANT_LENGTH} characters"
        ok = type(value) is not bool and parse_instant(value) is not None
        return None if ok else f"{_short(value)} is not a date, date-time or epoch seconds"
    if op == Operator.IN_CIDR:
        network = parse_network(value)
        return network if isinstance(network, str) else None
    check_segment(value, path.rsplit("[", 1)[0], errors)  # segment operators
    return None


def _short(value: Any) -> str:
    """A refused value as its author wrote it: a string quoted, anything else as JSON (``true``,
    ``{"x": 1}``, ``null``; not Python's ``True``), at most 80 characters."""
    text = repr(value)
    if not isinstance(value, str):
        with contextlib.suppress(TypeError, ValueError):
            text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
