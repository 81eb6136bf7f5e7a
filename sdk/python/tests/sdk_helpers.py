"""Builders shared by the engine tests."""

from __future__ import annotations

from typing import Any

from experimently_sdk import EvaluationResult, Evaluator, Ruleset

ON_OFF = [{"key": "on", "value": True}, {"key": "off", "value": False}]


def cond(attribute: str, operator: str, values: list[Any] | None = None, **flags: bool) -> dict[str, Any]:
    condition: dict[str, Any] = {"attribute": attribute, "operator": operator}
    if values is not None:
        condition["values"] = values
    condition.update(flags)
    return condition


def flag(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "f",
        "type": "boolean",
        "version": 1,
        "salt": "f",
        "variations": ON_OFF,
        "enabled": True,
        "off_variation": "off",
        "targets": [],
        "rules": [],
        "fallthrough": {"variation": "off"},
        "prerequisites": [],
        "bucket_by": "user_id",
    }
    data.update(overrides)
    return data


def rule(
    rule_id: str, conditions: list[dict[str, Any]], serve: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"id": rule_id, "conditions": conditions, "serve": serve or {"variation": "on"}}


def evaluator(flags: list[dict[str, Any]], segments: list[dict[str, Any]] | None = None) -> Evaluator:
    return Evaluator(Ruleset.from_payload({"flags": flags, "segments": segments or []}, strict=True))


def run(data: dict[str, Any], context: Any, **kwargs: Any) -> EvaluationResult:
    return evaluator([data]).evaluate(data["key"], context, **kwargs)


def matches(condition: dict[str, Any], context: Any, segments: list[dict[str, Any]] | None = None) -> bool:
    """True when a one-rule flag whose rule has only ``condition`` serves the rule."""
    data = flag(rules=[rule("r", [condition])])
    result = evaluator([data], segments).evaluate("f", context)
    assert result.reason in ("TARGETING_MATCH", "DEFAULT"), result
    return result.variation == "on"
