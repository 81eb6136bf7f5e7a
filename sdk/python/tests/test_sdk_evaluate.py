"""Evaluation order, reasons, result fields and errors (evaluation never raises)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sdk_helpers import cond, evaluator, flag, rule, run

from experimently_sdk import (
    ErrorCode,
    EvaluationResult,
    Evaluator,
    Reason,
    Ruleset,
    RuleValidationError,
    bucket,
)

FIFTY_FIFTY = {
    "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
}
EXPERIMENT = {"experiment": {"key": "exp", "variations": {"control": "off", "treatment": "on"}}}


def test_disabled__serves_off_variation() -> None:
    result = run(flag(enabled=False, rules=[rule("r", [])]), {"user_id": "u"})
    assert (result.variation, result.value, result.reason) == ("off", False, Reason.DISABLED)


def test_static__fallthrough_without_targeting() -> None:
    result = run(flag(fallthrough={"variation": "on"}), {})
    assert (result.variation, result.reason, result.rule_id) == ("on", Reason.STATIC, None)


def test_default__fallthrough_with_rules() -> None:
    result = run(flag(rules=[rule("r", [cond("a", "eq", ["x"])])]), {"a": "y"})
    assert (result.variation, result.reason) == ("off", Reason.DEFAULT)


def test_default__fallthrough_with_targets_only() -> None:
    result = run(flag(targets=[{"variation": "on", "values": ["u1"]}]), {"user_id": "u2"})
    assert result.reason == Reason.DEFAULT


def test_target__before_rules() -> None:
    data = flag(
        targets=[{"variation": "off", "values": ["u1"]}],
        rules=[rule("r", [])],
    )
    result = run(data, {"user_id": "u1"})
    assert (result.variation, result.reason, result.rule_id, result.rule_index) == (
        "off",
        Reason.TARGETING_MATCH,
        None,
        None,
    )


def test_target__integer_user_id_as_text() -> None:
    result = run(flag(targets=[{"variation": "on", "values": ["42"]}]), {"user_id": 42})
    assert result.variation == "on"


def test_rules__first_match_wins() -> None:
    data = flag(
        variations=[{"key": k, "value": k} for k in ("a", "b", "c")],
        type="string",
        off_variation="c",
        rules=[
            rule("r0", [cond("x", "eq", [1])], {"variation": "a"}),
            rule("r1", [cond("y", "eq", [1])], {"variation": "b"}),
            rule("r2", [], {"variation": "c"}),
        ],
        fallthrough={"variation": "c"},
    )
    result = run(data, {"y": 1, "x": 2})
    assert (result.variation, result.rule_id, result.rule_index, result.reason) == (
        "b",
        "r1",
        1,
        Reason.TARGETING_MATCH,
    )


def test_rule__all_conditions_must_hold() -> None:
    data = flag(rules=[rule("r", [cond("a", "eq", [1]), cond("b", "eq", [2])])])
    assert run(data, {"a": 1, "b": 2}).variation == "on"
    assert run(data, {"a": 1, "b": 3}).variation == "off"


def test_rule__no_conditions_matches_everything() -> None:
    assert run(flag(rules=[rule("r", [])]), {}).variation == "on"


def test_rollout__split_reason_and_bucket() -> None:
    result = run(flag(fallthrough=FIFTY_FIFTY), {"user_id": "user-1"})
    expected_bucket = bucket("f", "user-1")
    assert result.bucket == expected_bucket
    assert result.reason == Reason.SPLIT
    assert result.variation == ("on" if expected_bucket < 5000 else "off")


def test_rollout__rule_bucket_by_override() -> None:
    serve = {
        "rollout": {
            "bucket_by": "org",
            "variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}],
        }
    }
    result = run(flag(rules=[rule("r", [], serve)]), {"org": "acme"})
    assert (result.bucket, result.rule_id, result.reason) == (bucket("f", "acme"), "r", Reason.SPLIT)


def test_rollout__missing_unit__error_invalid_context() -> None:
    result = run(flag(fallthrough=FIFTY_FIFTY), {"country": "DE"}, default=True)
    assert (result.value, result.variation, result.reason, result.error_code) == (
        True,
        None,
        Reason.ERROR,
        ErrorCode.INVALID_CONTEXT,
    )


@pytest.mark.parametrize(
    ("unit", "text"), [(42, "42"), (42.0, "42"), (4.5, "4.5"), (True, "true"), ("x", "x")]
)
def test_rollout__unit_text(unit: Any, text: str) -> None:
    assert run(flag(fallthrough=FIFTY_FIFTY), {"user_id": unit}).bucket == bucket("f", text)


@pytest.mark.parametrize("unit", [None, [1], {"a": 1}, float("nan")])
def test_rollout__unbucketable_unit(unit: Any) -> None:
    assert run(flag(fallthrough=FIFTY_FIFTY), {"user_id": unit}).error_code == ErrorCode.INVALID_CONTEXT


def test_rollout_in_a_rule__every_field_of_result_and_error() -> None:
    # Given a rule that serves a rollout (its results are built once per bucket and then shared)
    data = flag(key="k", salt="k", rules=[rule("r1", [cond("a", "exists")], FIFTY_FIFTY)])
    ev = evaluator([data])
    for _ in range(2):  # built, then shared: the same fields both times
        result = ev.evaluate("k", {"user_id": "user-1", "a": 1})
        assert result.to_dict() == {
            "flag_key": "k",
            "value": result.variation == "on",
            "variation": result.variation,
            "reason": "SPLIT",
            "rule_id": "r1",
            "rule_index": 0,
            "error_code": None,
            "bucket": bucket("k", "user-1"),
            "experiment_key": None,
            "experiment_variant": None,
            "prerequisite_failed": None,
        }
    # When the unit cannot be bucketed, Then the error names the flag and the rule
    error = ev.evaluate("k", {"user_id": None, "a": 1}, default=False)
    assert (error.flag_key, error.value, error.reason, error.error_code, error.rule_id, error.rule_index) == (
        "k",
        False,
        Reason.ERROR,
        ErrorCode.INVALID_CONTEXT,
        "r1",
        0,
    )


def test_rollout__results_shared_per_bucket() -> None:
    ev = evaluator([flag(fallthrough=FIFTY_FIFTY)])
    assert ev.evaluate("f", {"user_id": "u"}) is ev.evaluate("f", {"user_id": "u"})


PREREQ_BASE = flag(key="base", salt="base", fallthrough={"variation": "on"})


def test_prerequisite__met__continues() -> None:
    data = flag(prerequisites=[{"flag": "base", "variation": "on"}], fallthrough={"variation": "on"})
    result = evaluator([PREREQ_BASE, data]).evaluate("f", {})
    assert (result.variation, result.reason, result.prerequisite_failed) == ("on", Reason.STATIC, None)


def test_prerequisite__other_variation__disabled() -> None:
    data = flag(prerequisites=[{"flag": "base", "variation": "off"}], fallthrough={"variation": "on"})
    result = evaluator([PREREQ_BASE, data]).evaluate("f", {})
    assert (result.variation, result.reason, result.prerequisite_failed) == ("off", Reason.DISABLED, "base")


def test_prerequisite__flag_off__unmet_even_if_off_variation_matches() -> None:
    base = flag(key="base", enabled=False, off_variation="on")
    data = flag(prerequisites=[{"flag": "base", "variation": "on"}], fallthrough={"variation": "on"})
    result = evaluator([base, data]).evaluate("f", {})
    assert (result.reason, result.prerequisite_failed) == (Reason.DISABLED, "base")


def test_prerequisite__chain_recursive() -> None:
    root = flag(key="root", rules=[rule("r", [cond("beta", "eq", [True])])])
    mid = flag(
        key="mid", prerequisites=[{"flag": "root", "variation": "on"}], fallthrough={"variation": "on"}
    )
    top = flag(key="top", prerequisites=[{"flag": "mid", "variation": "on"}], fallthrough={"variation": "on"})
    ev = evaluator([root, mid, top])
    assert ev.evaluate("top", {"beta": True}).variation == "on"
    failed = ev.evaluate("top", {"beta": False})
    assert (failed.variation, failed.prerequisite_failed) == ("off", "mid")


def test_prerequisite__checked_before_targets() -> None:
    data = flag(
        prerequisites=[{"flag": "base", "variation": "off"}], targets=[{"variation": "on", "values": ["u1"]}]
    )
    assert evaluator([PREREQ_BASE, data]).evaluate("f", {"user_id": "u1"}).reason == Reason.DISABLED


def test_disabled__before_prerequisites() -> None:
    data = flag(enabled=False, prerequisites=[{"flag": "base", "variation": "off"}])
    assert evaluator([PREREQ_BASE, data]).evaluate("f", {}).prerequisite_failed is None


def resolver_returning(variant: str | None) -> Any:
    calls: list[tuple[str, Mapping[str, Any]]] = []

    def resolve(key: str, context: Mapping[str, Any]) -> str | None:
        calls.append((key, context))
        return variant

    resolve.calls = calls  # type: ignore[attr-defined]  # the test reads the calls off the function
    return resolve


def test_experiment__assigned__targeting_match() -> None:
    resolver = resolver_returning("treatment")
    result = run(flag(rules=[rule("r", [], EXPERIMENT)]), {"user_id": "u"}, experiment_resolver=resolver)
    assert (
        result.variation,
        result.reason,
        result.experiment_key,
        result.experiment_variant,
        result.rule_id,
    ) == (
        "on",
        Reason.TARGETING_MATCH,
        "exp",
        "treatment",
        "r",
    )
    assert resolver.calls == [("exp", {"user_id": "u"})]


@pytest.mark.parametrize("resolver", [None, resolver_returning(None), resolver_returning("holdout")])
def test_experiment__not_assigned__next_rule(resolver: Any) -> None:
    data = flag(rules=[rule("r0", [], EXPERIMENT), rule("r1", [], {"variation": "on"})])
    result = run(data, {"user_id": "u"}, experiment_resolver=resolver)
    assert (result.variation, result.rule_id, result.experiment_key) == ("on", "r1", None)


def test_experiment__fallthrough_not_assigned__off_variation_default() -> None:
    result = run(flag(fallthrough=EXPERIMENT), {"user_id": "u"})
    assert (result.variation, result.reason) == ("off", Reason.DEFAULT)


def test_experiment__resolver_raises__general_error() -> None:
    def broken(key: str, context: Mapping[str, Any]) -> str | None:
        raise RuntimeError("boom")

    result = run(flag(rules=[rule("r", [], EXPERIMENT)]), {}, default=False, experiment_resolver=broken)
    assert (result.reason, result.error_code, result.value) == (Reason.ERROR, ErrorCode.GENERAL, False)


def test_error__flag_not_found() -> None:
    result = evaluator([]).evaluate("ghost", {}, default="d")
    assert (result.value, result.reason, result.error_code, result.flag_key) == (
        "d",
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
        "ghost",
    )


@pytest.mark.parametrize("context", [None, "user", 42, ["user_id"]])
def test_error__context_not_mapping(context: Any) -> None:
    result = run(flag(), context, default=True)
    assert (result.value, result.error_code) == (True, ErrorCode.INVALID_CONTEXT)


@pytest.mark.parametrize(
    ("flag_type", "default"), [("boolean", "yes"), ("boolean", 1), ("string", 1), ("number", True)]
)
def test_error__default_type_mismatch(flag_type: str, default: Any) -> None:
    choices: dict[str, list[Any]] = {"boolean": [True, False], "string": ["a", "b"], "number": [1, 2.5]}
    variations = choices[flag_type]
    data = flag(
        type=flag_type,
        variations=[{"key": "on", "value": variations[0]}, {"key": "off", "value": variations[1]}],
    )
    result = run(data, {}, default=default)
    assert (result.value, result.error_code) == (default, ErrorCode.TYPE_MISMATCH)


def test_number_flag__int_default_accepted() -> None:
    data = flag(type="number", variations=[{"key": "on", "value": 1}, {"key": "off", "value": 2.5}])
    assert run(data, {}, default=0).value == 2.5


def test_invalid_flag_in_payload__parse_error() -> None:
    ruleset = Ruleset.from_payload({"flags": [flag(off_variation="ghost")], "segments": []})
    assert ruleset.errors == {"f": [("off_variation", "unknown variation 'ghost'")]}
    result = Evaluator(ruleset).evaluate("f", {}, default=False)
    assert (result.error_code, result.value) == (ErrorCode.PARSE_ERROR, False)


def test_from_payload_strict__prefixed_paths() -> None:
    with pytest.raises(RuleValidationError) as info:
        Ruleset.from_payload({"flags": [flag(), flag(key="g", off_variation="ghost")]}, strict=True)
    assert info.value.errors == [("flags[1].off_variation", "unknown variation 'ghost'")]


def test_from_payload__reuses_same_key_version() -> None:
    first = Ruleset.from_payload({"flags": [flag()]})
    second = Ruleset.from_payload({"flags": [flag()]}, previous=first)
    third = Ruleset.from_payload({"flags": [flag(version=2)]}, previous=first)
    assert second.compiled["f"] is first.compiled["f"]
    assert third.compiled["f"] is not first.compiled["f"]


def test_segment_change__seen_by_reused_flag() -> None:
    data = flag(rules=[rule("r", [cond("", "in_segment", ["s"])])])
    first = Ruleset.from_payload(
        {"flags": [data], "segments": [{"key": "s", "conditions": [cond("a", "eq", [1])]}]}
    )
    second = Ruleset.from_payload(
        {"flags": [data], "segments": [{"key": "s", "conditions": [cond("a", "eq", [2])]}]}, previous=first
    )
    assert Evaluator(second).evaluate("f", {"a": 2}).variation == "on"
    assert Evaluator(first).evaluate("f", {"a": 2}).variation == "off"


def test_evaluate_all__every_flag() -> None:
    ruleset = Ruleset.from_payload(
        {"flags": [flag(), flag(key="g", enabled=False), flag(key="bad", type="x")]}
    )
    results = Evaluator(ruleset).evaluate_all({}, defaults={"bad": True})
    assert {k: (r.reason, r.value) for k, r in results.items()} == {
        "f": (Reason.STATIC, False),
        "g": (Reason.DISABLED, False),
        "bad": (Reason.ERROR, True),
    }


def test_evaluate_many__same_as_evaluate() -> None:
    ev = evaluator([flag(fallthrough=FIFTY_FIFTY)])
    contexts: list[Any] = [{"user_id": f"u{i}"} for i in range(50)] + [None, {}]
    assert ev.evaluate_many("f", contexts) == [ev.evaluate("f", c) for c in contexts]


def test_to_dict() -> None:
    result = EvaluationResult("f", True, "on", Reason.SPLIT, "r", 0, None, 12)
    assert result.to_dict() == {
        "flag_key": "f",
        "value": True,
        "variation": "on",
        "reason": "SPLIT",
        "rule_id": "r",
        "rule_index": 0,
        "error_code": None,
        "bucket": 12,
        "experiment_key": None,
        "experiment_variant": None,
        "prerequisite_failed": None,
    }


class Weird(Mapping[str, Any]):
    """A mapping whose lookups raise: evaluation must still not raise."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError(key)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_error__context_raising__general() -> None:
    result = run(flag(rules=[rule("r", [cond("a", "eq", [1])])]), Weird())
    assert result.error_code == ErrorCode.GENERAL


def test_prerequisite_served_by_an_experiment__resolver_passed_on() -> None:
    # Given a prerequisite flag whose only rule hands the decision to an experiment
    base = flag(key="base", salt="base", rules=[rule("r", [], EXPERIMENT)], fallthrough={"variation": "off"})
    data = flag(prerequisites=[{"flag": "base", "variation": "on"}], fallthrough={"variation": "on"})
    ev = evaluator([base, data])
    # When the experiment assigns treatment (-> "on"), Then the prerequisite is met
    met = ev.evaluate("f", {"user_id": "u"}, experiment_resolver=resolver_returning("treatment"))
    assert (met.variation, met.prerequisite_failed) == ("on", None)
    # and without a resolver the prerequisite flag falls through to "off": unmet
    unmet = ev.evaluate("f", {"user_id": "u"})
    assert unmet.prerequisite_failed == "base"


def test_fallthrough_after_rules__rollout_and_experiment_get_context_default_resolver() -> None:
    never = [rule("r", [cond("a", "eq", ["x"])])]
    rollout = evaluator([flag(rules=never, fallthrough=FIFTY_FIFTY)])
    split = rollout.evaluate("f", {"user_id": "user-1"})
    assert (split.reason, split.bucket, split.rule_id) == (Reason.SPLIT, bucket("f", "user-1"), None)
    error = rollout.evaluate("f", {"a": "y"}, default=True)  # no unit: the caller's default
    assert (error.error_code, error.value) == (ErrorCode.INVALID_CONTEXT, True)
    experiment = evaluator([flag(rules=never, fallthrough=EXPERIMENT)])
    served = experiment.evaluate("f", {"user_id": "u"}, experiment_resolver=resolver_returning("treatment"))
    assert (served.variation, served.experiment_variant) == ("on", "treatment")
