"""Save-time parsing and validation of flags and segments.

``validate_flag`` and ``validate_segment`` turn wire documents into frozen configuration or raise
``RuleValidationError`` listing every problem with its exact path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .conditions import Errors, SegmentGraph, parse_conditions, segment_references
from .errors import RuleValidationError
from .model import (
    MAX_PREREQUISITE_DEPTH,
    Condition,
    ExperimentServe,
    FlagConfig,
    FlagType,
    Prerequisite,
    Rollout,
    Rule,
    SegmentConfig,
    Serve,
    Target,
    Variation,
    WeightedVariation,
)

__all__ = ["parse_targeting", "validate_experiment_targeting", "validate_flag", "validate_segment"]

_FLAG_KEYS = frozenset(
    {
        "key",
        "type",
        "version",
        "salt",
        "variations",
        "enabled",
        "off_variation",
        "targets",
        "rules",
        "fallthrough",
        "prerequisites",
        "bucket_by",
    }
)


def validate_segment(
    data: Mapping[str, Any], *, segments: Mapping[str, Mapping[str, Any]], check_referrers: bool = True
) -> SegmentConfig:
    """Parse a segment; ``segments`` are the environment's other segments keyed by segment key.

    ``check_referrers`` also checks that the segments referring to this one stay within the nesting
    bound (off when a whole ruleset is validated, where each segment is checked on its own).
    """
    errors = Errors()
    if not isinstance(data, Mapping):
        raise RuleValidationError([("", "segment must be an object")])
    _unknown_fields(data, frozenset({"key", "conditions"}), "", errors)
    key = _required_str(data, "key", "key", errors)
    graph = SegmentGraph(segments, replacing=key, check_referrers=check_referrers)
    if key:
        graph.set_edges(key, segment_references(data))
    conditions = parse_conditions(data.get("conditions"), "conditions", errors, graph.check)
    if errors:
        raise RuleValidationError(errors.items)
    return SegmentConfig(key, conditions)


def validate_experiment_targeting(
    conditions: Any, segments: Mapping[str, Mapping[str, Any]]
) -> tuple[Condition, ...]:
    """Parse an experiment's targeting conditions (paths ``conditions[i]...``)."""
    errors = Errors()
    graph = SegmentGraph(segments)
    parsed = parse_conditions(conditions, "conditions", errors, graph.check)
    if errors:
        raise RuleValidationError(errors.items)
    return parsed


def parse_targeting(conditions: Any) -> tuple[Condition, ...]:
    """Parse stored targeting conditions (paths ``conditions[i]...``) or raise
    ``RuleValidationError`` listing every problem.

    For targeting that was validated when saved (with :func:`validate_experiment_targeting`, which
    also checks segment references against the segment documents): segment references are taken as
    they are here and resolved at evaluation against the compiled segments. Anything else wrong
    raises; nothing is dropped silently."""
    errors = Errors()
    parsed = parse_conditions(conditions, "conditions", errors, lambda *_: None)
    if errors:
        raise RuleValidationError(errors.items)
    return parsed


def validate_flag(
    data: Mapping[str, Any],
    *,
    segments: Mapping[str, Mapping[str, Any]],
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> FlagConfig:
    """Parse one environment's flag document; ``flags`` are the environment's other flags."""
    if not isinstance(data, Mapping):
        raise RuleValidationError([("", "flag must be an object")])
    errors = Errors()
    _unknown_fields(data, _FLAG_KEYS, "", errors)
    key = _required_str(data, "key", "key", errors)
    flag_type = _flag_type(data.get("type"), errors)
    version = data.get("version", 0)
    if type(version) is not int or version < 0:
        errors.add("version", "must be a non-negative integer")
    salt = _optional_str(data, "salt", key, errors)
    bucket_by = _optional_str(data, "bucket_by", "user_id", errors)
    variations = _variations(data.get("variations"), flag_type, errors)
    known = {v.key for v in variations}
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        errors.add("enabled", "must be a boolean")
    off_variation = _variation_ref(data.get("off_variation"), "off_variation", known, errors)
    targets = _targets(data.get("targets", []), known, errors)
    graph = SegmentGraph(segments)
    rules = _rules(data.get("rules", []), known, graph, errors)
    fallthrough = _serve(data.get("fallthrough"), "fallthrough", known, errors)
    prerequisites = _prerequisites(data.get("prerequisites", []), key, flags or {}, errors)
    if errors:
        raise RuleValidationError(errors.items)
    assert flag_type is not None and fallthrough is not None and isinstance(enabled, bool)
    return FlagConfig(
        key=key,
        type=flag_type,
        version=version,
        salt=salt,
        variations=variations,
        enabled=enabled,
        off_variation=off_variation,
        targets=targets,
        rules=rules,
        fallthrough=fallthrough,
        prerequisites=prerequisites,
        bucket_by=bucket_by,
    )


# ---------------------------------------------------------------------------------------------
# fields


def _unknown_fields(data: Mapping[str, Any], allowed: frozenset[str], path: str, errors: Errors) -> None:
    for field in data:
        if field not in allowed:
            errors.add(f"{path}.{field}" if path else str(field), "unknown field")


def _required_str(data: Mapping[str, Any], field: str, path: str, errors: Errors) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        errors.add(path, "must be a non-empty string")
        return ""
    return value


def _optional_str(data: Mapping[str, Any], field: str, default: str, errors: Errors) -> str:
    if field not in data:
        return default
    return _required_str(data, field, field, errors)


def _flag_type(raw: Any, errors: Errors) -> FlagType | None:
    try:
        return FlagType(raw)
    except ValueError:
        errors.add("type", f"must be one of {', '.join(t.value for t in FlagType)}")
        return None


def _value_fits(flag_type: FlagType, value: Any) -> bool:
    if flag_type == FlagType.BOOLEAN:
        return type(value) is bool
    if flag_type == FlagType.STRING:
        return type(value) is str
    if flag_type == FlagType.NUMBER:
        return type(value) is int or (type(value) is float and math.isfinite(value))
    return _is_json(value)


def _is_json(value: Any) -> bool:
    if value is None or type(value) in (str, bool, int):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _variations(raw: Any, flag_type: FlagType | None, errors: Errors) -> tuple[Variation, ...]:
    if not isinstance(raw, list) or not raw:
        errors.add("variations", "must be a non-empty list")
        return ()
    result: list[Variation] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"variations[{i}]"
        if not isinstance(item, Mapping):
            errors.add(path, "must be an object")
            continue
        _unknown_fields(item, frozenset({"key", "value"}), path, errors)
        key = _required_str(item, "key", f"{path}.key", errors)
        if key in seen:
            errors.add(f"{path}.key", f"duplicate variation key {key!r}")
        seen.add(key)
        if "value" not in item:
            errors.add(f"{path}.value", "required")
        elif flag_type is not None and not _value_fits(flag_type, item["value"]):
            errors.add(f"{path}.value", f"does not match the flag type {flag_type}")
        result.append(Variation(key, item.get("value")))
    return tuple(result)


def _variation_ref(raw: Any, path: str, known: set[str], errors: Errors) -> str:
    if not isinstance(raw, str) or not raw:
        errors.add(path, "must be a variation key")
        return ""
    if raw not in known:
        errors.add(path, f"unknown variation {raw!r}")
    return raw


def _targets(raw: Any, known: set[str], errors: Errors) -> tuple[Target, ...]:
    if not isinstance(raw, list):
        errors.add("targets", "must be a list")
        return ()
    result: list[Target] = []
    owner: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = f"targets[{i}]"
        if not isinstance(item, Mapping):
            errors.add(path, "must be an object")
            continue
        _unknown_fields(item, frozenset({"variation", "values"}), path, errors)
        variation = _variation_ref(item.get("variation"), f"{path}.variation", known, errors)
        values = item.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            errors.add(f"{path}.values", "must be a non-empty list of strings")
            continue
        for value in values:
            if owner.setdefault(value, i) != i:
                errors.add(f"{path}.values", f"{value!r} is already targeted by targets[{owner[value]}]")
        result.append(Target(variation, tuple(values)))
    return tuple(result)


def _rules(raw: Any, known: set[str], graph: SegmentGraph, errors: Errors) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        errors.add("rules", "must be a list")
        return ()
    result: list[Rule] = []
    ids: set[str] = set()
    for i, item in enumerate(raw):
        path = f"rules[{i}]"
        if not isinstance(item, Mapping):
            errors.add(path, "must be an object")
            continue
        _unknown_fields(item, frozenset({"id", "conditions", "serve"}), path, errors)
        rule_id = _required_str(item, "id", f"{path}.id", errors)
        if rule_id in ids:
            errors.add(f"{path}.id", f"duplicate rule id {rule_id!r}")
        ids.add(rule_id)
        conditions = parse_conditions(item.get("conditions", []), f"{path}.conditions", errors, graph.check)
        serve = _serve(item.get("serve"), f"{path}.serve", known, errors)
        if serve is not None:
            result.append(Rule(rule_id, conditions, serve))
    return tuple(result)


def _serve(raw: Any, path: str, known: set[str], errors: Errors) -> Serve | None:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        errors.add(path, "must have exactly one of variation, rollout, experiment")
        return None
    ((kind, body),) = raw.items()
    if kind == "variation":
        return Serve(variation=_variation_ref(body, f"{path}.variation", known, errors))
    if kind == "rollout":
        rollout = _rollout(body, f"{path}.rollout", known, errors)
        return None if rollout is None else Serve(rollout=rollout)
    if kind == "experiment":
        experiment = _experiment(body, f"{path}.experiment", known, errors)
        return None if experiment is None else Serve(experiment=experiment)
    errors.add(f"{path}.{kind}", "unknown serve kind (use variation, rollout or experiment)")
    return None


def _rollout(raw: Any, path: str, known: set[str], errors: Errors) -> Rollout | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "must be an object")
        return None
    _unknown_fields(raw, frozenset({"bucket_by", "variations"}), path, errors)
    bucket_by = raw.get("bucket_by")
    if bucket_by is not None and (not isinstance(bucket_by, str) or not bucket_by):
        errors.add(f"{path}.bucket_by", "must be a non-empty string")
    items = raw.get("variations")
    if not isinstance(items, list) or not items:
        errors.add(f"{path}.variations", "must be a non-empty list")
        return None
    weighted: list[WeightedVariation] = []
    for i, item in enumerate(items):
        entry = _weighted(item, f"{path}.variations[{i}]", known, errors)
        if entry is not None:
            if any(w.variation == entry.variation for w in weighted):
                errors.add(f"{path}.variations[{i}].variation", f"{entry.variation!r} listed twice")
            weighted.append(entry)
    if len(weighted) == len(items) and sum(w.basis_points for w in weighted) != 10000:
        total = sum(w.basis_points for w in weighted) / 100
        errors.add(f"{path}.variations", f"weights must sum to exactly 100 (got {total:g})")
    return Rollout(tuple(weighted), bucket_by if isinstance(bucket_by, str) else None)


def _weighted(item: Any, path: str, known: set[str], errors: Errors) -> WeightedVariation | None:
    if not isinstance(item, Mapping):
        errors.add(path, "must be an object")
        return None
    _unknown_fields(item, frozenset({"variation", "weight"}), path, errors)
    variation = _variation_ref(item.get("variation"), f"{path}.variation", known, errors)
    weight: Any = item.get("weight")
    if type(weight) not in (int, float) or not 0 <= weight <= 100:
        errors.add(f"{path}.weight", "must be a number from 0 to 100")
        return None
    basis_points = round(weight * 100)
    if abs(weight * 100 - basis_points) > 1e-6:
        errors.add(f"{path}.weight", "at most 2 decimals")
        return None
    return WeightedVariation(variation, float(weight), basis_points)


def _experiment(raw: Any, path: str, known: set[str], errors: Errors) -> ExperimentServe | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "must be an object")
        return None
    _unknown_fields(raw, frozenset({"key", "variations"}), path, errors)
    key = _required_str(raw, "key", f"{path}.key", errors)
    mapping = raw.get("variations")
    if not isinstance(mapping, Mapping) or not mapping:
        errors.add(f"{path}.variations", "must be a non-empty object of variant -> variation")
        return None
    pairs: list[tuple[str, str]] = []
    for variant, variation in mapping.items():
        if not isinstance(variant, str) or not variant:
            errors.add(f"{path}.variations", "variant keys must be non-empty strings")
            continue
        pairs.append((variant, _variation_ref(variation, f"{path}.variations.{variant}", known, errors)))
    return ExperimentServe(key, tuple(pairs))


def _prerequisites(
    raw: Any, key: str, flags: Mapping[str, Mapping[str, Any]], errors: Errors
) -> tuple[Prerequisite, ...]:
    if not isinstance(raw, list):
        errors.add("prerequisites", "must be a list")
        return ()
    result: list[Prerequisite] = []
    for i, item in enumerate(raw):
        path = f"prerequisites[{i}]"
        if not isinstance(item, Mapping):
            errors.add(path, "must be an object")
            continue
        _unknown_fields(item, frozenset({"flag", "variation"}), path, errors)
        flag = _required_str(item, "flag", f"{path}.flag", errors)
        variation = _required_str(item, "variation", f"{path}.variation", errors)
        if flag and _prerequisite_problem(flag, variation, key, flags, f"{path}.flag", errors):
            continue
        result.append(Prerequisite(flag, variation))
    return tuple(result)


def _prerequisite_problem(
    flag: str, variation: str, key: str, flags: Mapping[str, Mapping[str, Any]], path: str, errors: Errors
) -> bool:
    if flag == key:
        errors.add(path, "a flag cannot be its own prerequisite")
        return True
    other = flags.get(flag)
    if not isinstance(other, Mapping):
        errors.add(path, f"unknown flag {flag!r}")
        return True
    variations = other.get("variations")
    keys = (
        {v.get("key") for v in variations if isinstance(v, Mapping)}
        if isinstance(variations, list)
        else set()
    )
    if variation and variation not in keys:
        errors.add(path.rsplit(".", 1)[0] + ".variation", f"flag {flag!r} has no variation {variation!r}")
        return True
    cycle = _prerequisite_cycle(flag, key, flags)
    if cycle is not None:
        errors.add(path, "prerequisite cycle: " + " -> ".join([key, *cycle]))
        return True
    return False


def _prerequisite_cycle(start: str, key: str, flags: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """The chain from ``start`` back to ``key`` through prerequisites, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, chain = stack.pop()
        if current == key:
            return chain
        if current in seen or len(chain) > MAX_PREREQUISITE_DEPTH * 4:
            continue
        seen.add(current)
        raw = flags.get(current)
        prerequisites = raw.get("prerequisites") if isinstance(raw, Mapping) else None
        for item in prerequisites if isinstance(prerequisites, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("flag"), str):
                stack.append((item["flag"], [*chain, item["flag"]]))
    return None
