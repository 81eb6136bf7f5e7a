"""Explain one evaluation: the result plus a trace of every step the engine took to reach it.

Off the hot path: the result comes from the compiled flag itself (so the explanation can never
disagree with what an SDK serves), and the trace re-runs each condition through the same compiled
matchers, one by one, recording whether it held. Used by the console's "why did this user get this?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .bucketing import unit_text
from .compile import ExperimentResolver
from .evaluate import Evaluator
from .model import Condition, EvaluationResult, Reason, Serve
from .operators import compile_condition

__all__ = ["ConditionTrace", "Explanation", "PrerequisiteTrace", "RuleTrace", "explain"]


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    attribute: str
    operator: str
    values: tuple[Any, ...]
    negate: bool
    actual: Any  # the context's value for the attribute (None when absent)
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "operator": self.operator,
            "values": list(self.values),
            "negate": self.negate,
            "actual": self.actual,
            "held": self.held,
        }


@dataclass(frozen=True, slots=True)
class RuleTrace:
    index: int
    id: str
    matched: bool  # every condition held
    conditions: tuple[ConditionTrace, ...]
    serve: str  # "variation:<key>", "rollout", "experiment:<key>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "matched": self.matched,
            "serve": self.serve,
            "conditions": [c.to_dict() for c in self.conditions],
        }


@dataclass(frozen=True, slots=True)
class PrerequisiteTrace:
    flag: str
    variation: str
    actual: str | None
    met: bool

    def to_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "variation": self.variation, "actual": self.actual, "met": self.met}


@dataclass(frozen=True, slots=True)
class Explanation:
    result: EvaluationResult
    enabled: bool | None  # None: the flag is not in the ruleset
    prerequisites: tuple[PrerequisiteTrace, ...] = ()
    target_matched: bool = False
    rules: tuple[RuleTrace, ...] = field(default_factory=tuple)
    matched_rule: int | None = None  # index of the rule whose serve produced the result

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result.to_dict(),
            "enabled": self.enabled,
            "prerequisites": [p.to_dict() for p in self.prerequisites],
            "target_matched": self.target_matched,
            "rules": [r.to_dict() for r in self.rules],
            "matched_rule": self.matched_rule,
        }


def _serve_label(serve: Serve) -> str:
    if serve.variation is not None:
        return f"variation:{serve.variation}"
    if serve.experiment is not None:
        return f"experiment:{serve.experiment.key}"
    return "rollout"


def _condition(condition: Condition, context: Mapping[str, Any], segments: Any) -> ConditionTrace:
    try:
        held = bool(compile_condition(condition)(context, segments))
    except Exception:  # the engine treats an error in a condition as an evaluation error
        held = False
    return ConditionTrace(
        attribute=condition.attribute,
        operator=str(condition.operator),
        values=condition.values,
        negate=condition.negate,
        actual=context.get(condition.attribute) if condition.attribute else None,
        held=held,
    )


def explain(
    evaluator: Evaluator,
    flag_key: str,
    context: Mapping[str, Any],
    *,
    experiment_resolver: ExperimentResolver | None = None,
) -> Explanation:
    """Evaluate ``flag_key`` for ``context`` and trace why. Rules after the one that served are not
    tried (as in the engine) and so are not in the trace."""
    result = evaluator.evaluate(flag_key, context, experiment_resolver=experiment_resolver)
    compiled = evaluator.flag(flag_key)
    if compiled is None:
        return Explanation(result=result, enabled=None)
    config = compiled.config
    if not config.enabled:
        return Explanation(result=result, enabled=False)
    prerequisites = []
    for prerequisite in config.prerequisites:
        other = evaluator.evaluate(prerequisite.flag, context, experiment_resolver=experiment_resolver)
        met = other.variation == prerequisite.variation and other.reason not in (
            Reason.DISABLED,
            Reason.ERROR,
        )
        prerequisites.append(
            PrerequisiteTrace(prerequisite.flag, prerequisite.variation, other.variation, met)
        )
        if not met:
            return Explanation(result=result, enabled=True, prerequisites=tuple(prerequisites))
    user = unit_text(context.get("user_id"))
    if user is not None and any(user in t.values for t in config.targets):
        return Explanation(
            result=result, enabled=True, prerequisites=tuple(prerequisites), target_matched=True
        )
    segments = evaluator.ruleset.segment_matchers
    rules: list[RuleTrace] = []
    for index, rule in enumerate(config.rules):
        conditions = tuple(_condition(c, context, segments) for c in rule.conditions)
        matched = all(c.held for c in conditions)
        rules.append(RuleTrace(index, rule.id, matched, conditions, _serve_label(rule.serve)))
        if matched and result.rule_index == index:
            break
    return Explanation(
        result=result,
        enabled=True,
        prerequisites=tuple(prerequisites),
        rules=tuple(rules),
        matched_rule=result.rule_index,
    )
