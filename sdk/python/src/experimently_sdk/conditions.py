"""Save-time parsing and validation of conditions (shared by flags, segments and experiments)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .model import CASE_INSENSITIVE_OPERATORS, Condition, Operator
from .patterns import check_pattern
from .values import is_scalar, parse_instant, parse_network, parse_number, parse_semver

__all__ = ["Errors", "SegmentGraph", "parse_conditions"]

_CONDITION_KEYS = frozenset({"attribute", "operator", "values", "negate", "case_insensitive"})
_SEGMENT_OPERATORS = frozenset({Operator.IN_SEGMENT, Operator.NOT_IN_SEGMENT})
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

    def __init__(self, segments: Mapping[str, Any], *, replacing: str | None = None) -> None:
        self.edges: dict[str, list[str]] = {key: segment_references(raw) for key, raw in segments.items()}
        self.replacing = replacing

    def set_edges(self, key: str, refs: list[str]) -> None:
        self.edges[key] = refs

    def check(self, key: str, path: str, errors: Errors) -> None:
        if key != self.replacing and key not in self.edges:
            errors.add(path, f"unknown segment {key!r}")
            return
        cycle = self.find_cycle(key)
        if cycle is not None:
            errors.add(path, "segment reference cycle: " + " -> ".join(cycle))

    def find_cycle(self, start: str) -> list[str] | None:
        trail: list[str] = []
        done: set[str] = set()

        def visit(key: str) -> list[str] | None:
            if key in trail:
                return [*trail[trail.index(key) :], key]
            if key in done:
                return None
            trail.append(key)
            for ref in self.edges.get(key, []):
                found = visit(ref)
                if found is not None:
                    return found
            trail.pop()
            done.add(key)
            return None

        return visit(start)


def segment_references(raw: Any) -> list[str]:
    """Segment keys a raw segment document refers to (tolerant of malformed input)."""
    refs: list[str] = []
    conditions = raw.get("conditions") if isinstance(raw, Mapping) else None
    if not isinstance(conditions, list):
        return refs
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("operator") in _SEGMENT_OPERATORS:
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
    values = _values(raw, operator, f"{path}.values", errors, check_segment)
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
    if operator in _SEGMENT_OPERATORS and attribute in (None, ""):
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
    raw: Mapping[str, Any], op: Operator | None, path: str, errors: Errors, check_segment: SegmentCheck
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
            problem = _value_problem(op, value, f"{path}[{i}]", errors, check_segment)
            if problem is not None:
                errors.add(path, f"values[{i}]: {problem}")
    return tuple(values)


def _value_problem(
    op: Operator, value: Any, path: str, errors: Errors, check_segment: SegmentCheck
) -> str | None:
    if op in _SCALAR_OPERATORS:
        return None if is_scalar(value) else f"{value!r} is not a string, finite number or boolean"
    if op in _NUMERIC_OPERATORS:
        number = parse_number(value) if type(value) is not bool else None
        return None if number is not None and not math.isnan(number) else f"{value!r} is not a number"
    if not isinstance(value, str) and op not in (Operator.BEFORE, Operator.AFTER):
        return f"{value!r} must be a string"
    if op in _TEXT_OPERATORS:
        return None
    if op == Operator.MATCHES:
        return check_pattern(value)
    if op in _SEMVER_OPERATORS:
        return None if parse_semver(value) is not None else f"{value!r} is not a version"
    if op in (Operator.BEFORE, Operator.AFTER):
        ok = type(value) is not bool and parse_instant(value) is not None
        return None if ok else f"{value!r} is not a date, date-time or epoch seconds"
    if op == Operator.IN_CIDR:
        network = parse_network(value)
        return network if isinstance(network, str) else None
    check_segment(value, path.rsplit("[", 1)[0], errors)  # segment operators
    return None
