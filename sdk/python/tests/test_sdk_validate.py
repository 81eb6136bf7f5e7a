"""Save-time validation: what is refused, with the exact path, all errors collected."""

from __future__ import annotations

from typing import Any

import pytest
from sdk_helpers import cond, flag, rule

from experimently_sdk import FlagType, Operator, RuleValidationError, validate_flag, validate_segment
from experimently_sdk.validate import validate_experiment_targeting

SEGMENTS: dict[str, dict[str, Any]] = {
    "beta": {"key": "beta", "conditions": [cond("plan", "eq", ["beta"])]},
    "loop-a": {"key": "loop-a", "conditions": [cond("", "in_segment", ["loop-b"])]},
    "loop-b": {"key": "loop-b", "conditions": [cond("", "in_segment", ["loop-a"])]},
}


def errors_of(data: dict[str, Any], flags: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(RuleValidationError) as info:
        validate_flag(data, segments=SEGMENTS, flags=flags)
    return info.value.errors


def paths_of(data: dict[str, Any], flags: dict[str, Any] | None = None) -> list[str]:
    return [path for path, _ in errors_of(data, flags)]


def one_condition(condition: dict[str, Any]) -> list[str]:
    return paths_of(flag(rules=[rule("r", [condition])]))


def test_validate_flag__valid__returns_frozen_config() -> None:
    config = validate_flag(flag(rules=[rule("r", [cond("a", "eq", ["x"])])]), segments=SEGMENTS)
    assert config.type is FlagType.BOOLEAN
    assert config.rules[0].conditions[0].operator is Operator.EQ
    assert config.rules[0].conditions[0].values == ("x",)
    assert config.salt == "f" and config.bucket_by == "user_id"


REFUSED_CONDITIONS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown operator", cond("a", "equals", ["x"]), "rules[0].conditions[0].operator"),
    ("upper-case operator", cond("a", "EQ", ["x"]), "rules[0].conditions[0].operator"),
    ("unknown key", {**cond("a", "eq", ["x"]), "weight": 1}, "rules[0].conditions[0].weight"),
    ("non-bool negate", cond("a", "eq", ["x"], negate=1), "rules[0].conditions[0].negate"),  # type: ignore[arg-type]  # the bad type is the point
    ("empty attribute", cond("", "eq", ["x"]), "rules[0].conditions[0].attribute"),
    (
        "values not a list",
        {"attribute": "a", "operator": "eq", "values": "x"},
        "rules[0].conditions[0].values",
    ),
    ("null in values", cond("a", "eq", ["x", None]), "rules[0].conditions[0].values"),
    ("empty values", cond("a", "eq", []), "rules[0].conditions[0].values"),
    ("missing values", cond("a", "eq"), "rules[0].conditions[0].values"),
    ("exists with values", cond("a", "exists", ["x"]), "rules[0].conditions[0].values"),
    ("ci on gt", cond("a", "gt", [1], case_insensitive=True), "rules[0].conditions[0].case_insensitive"),
    (
        "ci on semver",
        cond("a", "semver_eq", ["1.0.0"], case_insensitive=True),
        "rules[0].conditions[0].case_insensitive",
    ),
    ("ci on exists", cond("a", "exists", case_insensitive=True), "rules[0].conditions[0].case_insensitive"),
    ("gt non numeric", cond("a", "gt", ["abc"]), "rules[0].conditions[0].values"),
    ("gt bool", cond("a", "gt", [True]), "rules[0].conditions[0].values"),
    # JSON has no infinity: a ruleset holding one does not encode (every SDK payload a 500)
    ("gt infinity", cond("a", "gt", [float("inf")]), "rules[0].conditions[0].values"),
    ("lte minus infinity", cond("a", "lte", [float("-inf")]), "rules[0].conditions[0].values"),
    ("gte nan", cond("a", "gte", [float("nan")]), "rules[0].conditions[0].values"),
    ("eq object value", cond("a", "eq", [{"x": 1}]), "rules[0].conditions[0].values"),
    ("contains number value", cond("a", "contains", [5]), "rules[0].conditions[0].values"),
    ("semver invalid", cond("a", "semver_gt", ["1.2.3.4"]), "rules[0].conditions[0].values"),
    ("semver leading zero prerelease", cond("a", "semver_gt", ["1.0.0-01"]), "rules[0].conditions[0].values"),
    ("date invalid", cond("a", "after", ["tomorrow"]), "rules[0].conditions[0].values"),
    (
        "date bare hour offset",
        cond("a", "after", ["2024-01-01T00:00:00+02"]),
        "rules[0].conditions[0].values",
    ),
    ("cidr host bits", cond("a", "in_cidr", ["10.0.0.1/8"]), "rules[0].conditions[0].values"),
    ("cidr netmask form", cond("a", "in_cidr", ["10.0.0.0/255.0.0.0"]), "rules[0].conditions[0].values"),
    ("cidr garbage", cond("a", "in_cidr", ["10.0.0/8"]), "rules[0].conditions[0].values"),
    ("regex lookbehind", cond("a", "matches", ["(?<=a)b"]), "rules[0].conditions[0].values"),
    ("regex negative lookbehind", cond("a", "matches", ["(?<!a)b"]), "rules[0].conditions[0].values"),
    ("regex backreference", cond("a", "matches", ["(a)\\1"]), "rules[0].conditions[0].values"),
    ("regex named group", cond("a", "matches", ["(?P<x>a)"]), "rules[0].conditions[0].values"),
    ("regex js named group", cond("a", "matches", ["(?<x>a)"]), "rules[0].conditions[0].values"),
    ("regex possessive", cond("a", "matches", ["a++"]), "rules[0].conditions[0].values"),
    ("regex atomic", cond("a", "matches", ["(?>a)"]), "rules[0].conditions[0].values"),
    ("regex inline flag", cond("a", "matches", ["(?i)a"]), "rules[0].conditions[0].values"),
    ("regex too long", cond("a", "matches", ["a" * 257]), "rules[0].conditions[0].values"),
    ("regex invalid", cond("a", "matches", ["(a"]), "rules[0].conditions[0].values"),
    ("unknown segment", cond("", "in_segment", ["nope"]), "rules[0].conditions[0].values"),
    ("segment cycle", cond("", "in_segment", ["loop-a"]), "rules[0].conditions[0].values"),
]


@pytest.mark.parametrize(
    ("name", "condition", "path"), REFUSED_CONDITIONS, ids=[c[0] for c in REFUSED_CONDITIONS]
)
def test_validate_flag__refused_condition__reports_path(
    name: str, condition: dict[str, Any], path: str
) -> None:
    assert path in one_condition(condition)


def test_validate_flag__regex_256_chars__accepted() -> None:
    config = validate_flag(flag(rules=[rule("r", [cond("a", "matches", ["a" * 256])])]), segments={})
    condition = config.rules[0].conditions[0]
    assert (condition.attribute, condition.operator, condition.values) == ("a", "matches", ("a" * 256,))


def test_validate_flag__ci_false_on_gt__accepted() -> None:
    config = validate_flag(
        flag(rules=[rule("r", [cond("a", "gt", [1], case_insensitive=False)])]), segments={}
    )
    condition = config.rules[0].conditions[0]
    assert (condition.operator, condition.values, condition.case_insensitive) == ("gt", (1,), False)


def test_validate_flag__segment_operator_without_attribute__accepted() -> None:
    config = validate_flag(
        flag(rules=[rule("r", [{"operator": "in_segment", "values": ["beta"]}])]), segments=SEGMENTS
    )
    assert config.rules[0].conditions[0].attribute == ""


def test_validate_flag__many_problems__all_collected_in_order() -> None:
    data = flag(
        variations=[{"key": "on", "value": True}, {"key": "on", "value": "yes"}],
        off_variation="nope",
        rules=[rule("r", [cond("a", "gt", ["x"])]), rule("r", [], {"variation": "ghost"})],
        fallthrough={
            "rollout": {"variations": [{"variation": "on", "weight": 60}, {"variation": "off", "weight": 30}]}
        },
    )
    assert paths_of(data) == [
        "variations[1].key",
        "variations[1].value",
        "off_variation",
        "rules[0].conditions[0].values",
        "rules[1].id",
        "rules[1].serve.variation",
        "fallthrough.rollout.variations[1].variation",
        "fallthrough.rollout.variations",
    ]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"type": "text"}, "type"),
        ({"key": ""}, "key"),
        ({"version": -1}, "version"),
        ({"enabled": "yes"}, "enabled"),
        ({"variations": []}, "variations"),
        ({"variations": [{"key": "on", "value": 1}, {"key": "off", "value": False}]}, "variations[0].value"),
        ({"unknown": 1}, "unknown"),
        ({"targets": [{"variation": "ghost", "values": ["u1"]}]}, "targets[0].variation"),
        ({"targets": [{"variation": "on", "values": []}]}, "targets[0].values"),
        (
            {"targets": [{"variation": "on", "values": ["u1"]}, {"variation": "off", "values": ["u1"]}]},
            "targets[1].values",
        ),
        ({"fallthrough": {"variation": "on", "rollout": {}}}, "fallthrough"),
        ({"fallthrough": {"split": {}}}, "fallthrough.split"),
        (
            {"fallthrough": {"rollout": {"variations": [{"variation": "on", "weight": 100.001}]}}},
            "fallthrough.rollout.variations[0].weight",
        ),
        (
            {
                "fallthrough": {
                    "rollout": {
                        "variations": [
                            {"variation": "on", "weight": 33.333},
                            {"variation": "off", "weight": 66.667},
                        ]
                    }
                }
            },
            "fallthrough.rollout.variations[0].weight",
        ),
        (
            {
                "fallthrough": {
                    "rollout": {
                        "variations": [{"variation": "on", "weight": 50}, {"variation": "on", "weight": 50}]
                    }
                }
            },
            "fallthrough.rollout.variations[1].variation",
        ),
        (
            {
                "fallthrough": {
                    "experiment": {"key": "exp", "variations": {"control": "off", "treatment": "ghost"}}
                }
            },
            "fallthrough.experiment.variations.treatment",
        ),
        (
            {"fallthrough": {"experiment": {"key": "exp", "variations": {}}}},
            "fallthrough.experiment.variations",
        ),
        (
            {"rules": [{"id": "r", "conditions": [], "serve": {"variation": "on"}, "name": "x"}]},
            "rules[0].name",
        ),
    ],
)
def test_validate_flag__refused_field__reports_path(overrides: dict[str, Any], path: str) -> None:
    assert path in paths_of(flag(**overrides))


def test_validate_flag__weights_with_two_decimals__accepted() -> None:
    weights = [{"variation": "on", "weight": 33.33}, {"variation": "off", "weight": 66.67}]
    config = validate_flag(flag(fallthrough={"rollout": {"variations": weights}}), segments={})
    rollout = config.fallthrough.rollout
    assert rollout is not None and [w.basis_points for w in rollout.variations] == [3333, 6667]


def test_validate_flag__flag_types__values_must_match() -> None:
    number = flag(type="number", variations=[{"key": "on", "value": 1.5}, {"key": "off", "value": True}])
    assert paths_of(number) == ["variations[1].value"]
    json_flag = flag(
        type="json", variations=[{"key": "on", "value": {"a": [1]}}, {"key": "off", "value": None}]
    )
    assert validate_flag(json_flag, segments={}).variations[0].value == {"a": [1]}


OTHER_FLAGS = {
    "base": {"key": "base", "variations": [{"key": "on"}, {"key": "off"}], "prerequisites": []},
    "mid": {"key": "mid", "variations": [{"key": "on"}], "prerequisites": [{"flag": "f", "variation": "on"}]},
}


def test_validate_flag__prerequisite_unknown_flag__refused() -> None:
    assert paths_of(flag(prerequisites=[{"flag": "ghost", "variation": "on"}]), OTHER_FLAGS) == [
        "prerequisites[0].flag"
    ]


def test_validate_flag__prerequisite_unknown_variation__refused() -> None:
    data = flag(prerequisites=[{"flag": "base", "variation": "maybe"}])
    assert paths_of(data, OTHER_FLAGS) == ["prerequisites[0].variation"]


def test_validate_flag__prerequisite_cycle__refused() -> None:
    errors = errors_of(flag(prerequisites=[{"flag": "mid", "variation": "on"}]), OTHER_FLAGS)
    assert errors == [("prerequisites[0].flag", "prerequisite cycle: f -> mid -> f")]


def test_validate_flag__self_prerequisite__refused() -> None:
    assert paths_of(flag(prerequisites=[{"flag": "f", "variation": "on"}]), OTHER_FLAGS) == [
        "prerequisites[0].flag"
    ]


def test_validate_flag__prerequisite_known__accepted() -> None:
    config = validate_flag(
        flag(prerequisites=[{"flag": "base", "variation": "on"}]), segments={}, flags=OTHER_FLAGS
    )
    assert config.prerequisites[0].flag == "base"


def test_validate_segment__self_reference__refused() -> None:
    with pytest.raises(RuleValidationError) as info:
        validate_segment({"key": "s", "conditions": [cond("", "in_segment", ["s"])]}, segments={})
    assert info.value.errors == [("conditions[0].values", "segment reference cycle: s -> s")]


def test_validate_segment__indirect_cycle__refused() -> None:
    segments = {"t": {"key": "t", "conditions": [cond("", "in_segment", ["s"])]}}
    with pytest.raises(RuleValidationError) as info:
        validate_segment({"key": "s", "conditions": [cond("", "in_segment", ["t"])]}, segments=segments)
    assert info.value.errors == [("conditions[0].values", "segment reference cycle: t -> s -> t")]


def test_validate_segment__unknown_reference__refused() -> None:
    with pytest.raises(RuleValidationError) as info:
        validate_segment({"key": "s", "conditions": [cond("", "in_segment", ["ghost"])]}, segments={})
    assert info.value.errors == [("conditions[0].values", "unknown segment 'ghost'")]


def test_validate_segment__valid__parsed() -> None:
    segment = validate_segment(
        {"key": "s", "conditions": [cond("", "in_segment", ["beta"])]}, segments=SEGMENTS
    )
    assert segment.key == "s" and segment.conditions[0].values == ("beta",)


def test_validate_experiment_targeting__paths() -> None:
    with pytest.raises(RuleValidationError) as info:
        validate_experiment_targeting([cond("a", "eq", ["x"]), cond("b", "semver_gt", ["x"])], segments={})
    assert [p for p, _ in info.value.errors] == ["conditions[1].values"]


def test_parse_targeting__valid__same_conditions_as_save_time_validation() -> None:
    from experimently_sdk import parse_targeting

    raw = [cond("country", "in", ["DE", "FR"]), cond("", "in_segment", ["beta"])]
    assert parse_targeting(raw) == validate_experiment_targeting(raw, SEGMENTS)


def test_parse_targeting__unknown_segment__taken_as_it_is() -> None:
    from experimently_sdk import parse_targeting

    # resolved at evaluation against the compiled segments, not checked here
    assert len(parse_targeting([cond("", "in_segment", ["not-saved-yet"])])) == 1


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"attribute": "a"}, "conditions"),
        ([{"attribute": "a", "operator": "bogus", "values": [1]}], "conditions[0].operator"),
        (
            [cond("a", "eq", ["x"]), {"attribute": "a", "operator": "eq", "values": [1], "x": 1}],
            "conditions[1].x",
        ),
    ],
)
def test_parse_targeting__bad_input__raises_with_every_path(raw: Any, path: str) -> None:
    from experimently_sdk import parse_targeting

    with pytest.raises(RuleValidationError) as info:
        parse_targeting(raw)
    assert path in [p for p, _ in info.value.errors]
