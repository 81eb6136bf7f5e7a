"""explain(): the engine's result plus a trace that agrees with it, condition by condition."""

from __future__ import annotations

from sdk_helpers import cond, evaluator, flag, rule

from experimently_sdk import Reason
from experimently_sdk.explain import explain


def _two_rules() -> dict[str, object]:
    return flag(
        rules=[
            rule("eu-pro", [cond("country", "in", ["FR", "DE"]), cond("plan", "eq", ["pro"])]),
            rule("new-app", [cond("version", "semver_gte", ["2.0.0"]), cond("beta", "exists", negate=True)]),
        ],
        targets=[{"variation": "off", "values": ["vip"]}],
    )


def test_explain__second_rule_serves__first_traced_as_failed_rest_not_tried() -> None:
    ev = evaluator([_two_rules()])
    out = explain(ev, "f", {"user_id": "u1", "country": "FR", "plan": "free", "version": "2.1.0"})
    assert out.result == ev.evaluate(
        "f", {"user_id": "u1", "country": "FR", "plan": "free", "version": "2.1.0"}
    )
    assert out.matched_rule == 1 and out.result.reason is Reason.TARGETING_MATCH
    first, second = out.rules
    assert [c.held for c in first.conditions] == [True, False] and not first.matched
    assert [c.actual for c in first.conditions] == ["FR", "free"]
    assert second.matched and second.serve == "variation:on"
    assert second.conditions[1].negate and second.conditions[1].held  # "beta" absent, negated exists


def test_explain__nothing_matches__every_rule_traced_and_default() -> None:
    out = explain(evaluator([_two_rules()]), "f", {"user_id": "u1", "country": "US"})
    assert out.result.reason is Reason.DEFAULT and out.matched_rule is None
    assert len(out.rules) == 2 and not any(r.matched for r in out.rules)


def test_explain__individual_target_wins_before_rules() -> None:
    out = explain(evaluator([_two_rules()]), "f", {"user_id": "vip", "country": "FR", "plan": "pro"})
    assert out.target_matched and out.rules == () and out.result.variation == "off"


def test_explain__disabled_and_unknown_flags() -> None:
    off = explain(evaluator([flag(enabled=False)]), "f", {"user_id": "u"})
    assert off.enabled is False and off.result.reason is Reason.DISABLED
    missing = explain(evaluator([flag()]), "nope", {"user_id": "u"})
    assert missing.enabled is None and missing.result.reason is Reason.ERROR


def test_explain__unmet_prerequisite_stops_the_trace() -> None:
    parent = flag(key="parent", salt="parent", enabled=False)
    child = flag(
        prerequisites=[{"flag": "parent", "variation": "on"}], rules=[rule("r", [cond("a", "exists")])]
    )
    out = explain(evaluator([parent, child]), "f", {"user_id": "u", "a": 1})
    assert [(p.flag, p.met, p.actual) for p in out.prerequisites] == [("parent", False, "off")]
    assert out.rules == () and out.result.prerequisite_failed == "parent"


def test_explain__segment_condition_traced() -> None:
    data = flag(rules=[rule("seg", [cond("", "in_segment", ["beta"])])])
    ev = evaluator([data], [{"key": "beta", "conditions": [cond("email", "ends_with", ["@example.com"])]}])
    out = explain(ev, "f", {"user_id": "u", "email": "a@example.com"})
    assert out.matched_rule == 0 and out.rules[0].conditions[0].held
    assert out.to_dict()["rules"][0]["conditions"][0]["operator"] == "in_segment"
