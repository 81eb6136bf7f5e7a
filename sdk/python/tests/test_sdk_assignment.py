"""Experiment assignment: order of checks, weights, traffic monotonicity, exclusive layers."""

from __future__ import annotations

from collections import Counter

import pytest
from scipy import stats
from sdk_helpers import cond

from experimently_sdk import (
    AssignmentReason,
    ExperimentDef,
    Layer,
    Ruleset,
    RuleValidationError,
    assign,
    bucket,
    compile_experiment,
    validate_experiment_targeting,
)

UNITS = [f"unit-{i}" for i in range(100_000)]


def experiment(**overrides: object) -> ExperimentDef:
    base: dict[str, object] = {
        "key": "exp",
        "salt": "exp-salt",
        "variants": (("control", 50.0), ("treatment", 50.0)),
        "traffic_allocation": 100.0,
    }
    base.update(overrides)
    return ExperimentDef(**base)  # type: ignore[arg-type]  # overrides are loosely typed test data


def test_assign__exact_buckets() -> None:
    """Every unit lands where its two buckets say; the units cover both outcomes (and both variants),
    so neither branch of the expectation goes unchecked."""
    compiled = compile_experiment(experiment(traffic_allocation=60.0))
    seen: set[tuple[AssignmentReason, str | None]] = set()
    for unit in (f"u-{i}" for i in range(40)):
        result = assign(compiled, {"user_id": unit})
        traffic = bucket("exp-salt:traffic", unit)
        variant = bucket("exp-salt:variant", unit)
        expected: tuple[AssignmentReason, int, str | None]
        if traffic < 6000:
            expected = (AssignmentReason.ASSIGNED, variant, "control" if variant < 5000 else "treatment")
        else:
            expected = (AssignmentReason.TRAFFIC_EXCLUDED, traffic, None)
        assert (result.reason, result.bucket, result.variant) == expected
        seen.add((result.reason, result.variant))
    assert seen == {
        (AssignmentReason.ASSIGNED, "control"),
        (AssignmentReason.ASSIGNED, "treatment"),
        (AssignmentReason.TRAFFIC_EXCLUDED, None),
    }


def test_assign__missing_unit() -> None:
    assert assign(compile_experiment(experiment()), {"country": "DE"}).reason == AssignmentReason.MISSING_UNIT


def test_assign__not_targeted_before_traffic() -> None:
    conditions = validate_experiment_targeting([cond("country", "eq", ["DE"])], segments={})
    compiled = compile_experiment(experiment(conditions=conditions, traffic_allocation=0.0))
    assert assign(compiled, {"user_id": "u", "country": "FR"}).reason == AssignmentReason.NOT_TARGETED
    assert assign(compiled, {"user_id": "u", "country": "DE"}).reason == AssignmentReason.TRAFFIC_EXCLUDED


def test_assign__segments_in_targeting() -> None:
    segments = [{"key": "de", "conditions": [cond("country", "eq", ["DE"])]}]
    ruleset = Ruleset.from_payload({"flags": [], "segments": segments}, strict=True)
    conditions = validate_experiment_targeting([cond("", "in_segment", ["de"])], segments={"de": segments[0]})
    compiled = compile_experiment(experiment(conditions=conditions))
    assert (
        assign(compiled, {"user_id": "u", "country": "DE"}, ruleset.segment_matchers).reason
        == AssignmentReason.ASSIGNED
    )
    assert (
        assign(compiled, {"user_id": "u", "country": "FR"}, ruleset.segment_matchers).reason
        == AssignmentReason.NOT_TARGETED
    )


def test_assign__weights_respected_chi_square() -> None:
    compiled = compile_experiment(experiment(variants=(("a", 10.0), ("b", 30.0), ("c", 60.0))))
    counts = Counter(assign(compiled, {"user_id": u}).variant for u in UNITS)
    observed = [counts["a"], counts["b"], counts["c"]]
    expected = [10_000, 30_000, 60_000]
    assert sum(observed) == 100_000
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_assign__traffic_allocation_monotone() -> None:
    small = compile_experiment(experiment(traffic_allocation=20.0))
    large = compile_experiment(experiment(traffic_allocation=45.5))
    entered_small = {u for u in UNITS[:20000] if assign(small, {"user_id": u}).variant is not None}
    entered_large = {u for u in UNITS[:20000] if assign(large, {"user_id": u}).variant is not None}
    assert entered_small <= entered_large
    assert stats.binomtest(len(entered_small), 20000, 0.2).pvalue > 0.001
    # a unit keeps its variant when traffic grows (variant hash is independent of traffic)
    for unit in entered_small:
        assert assign(small, {"user_id": unit}).variant == assign(large, {"user_id": unit}).variant


def test_assign__layer_ranges_exclusive() -> None:
    first = compile_experiment(experiment(key="one", salt="one", layer=Layer("checkout", 0, 5000)))
    second = compile_experiment(experiment(key="two", salt="two", layer=Layer("checkout", 5000, 10000)))
    both = 0
    in_first = 0
    for unit in UNITS[:20000]:
        a = assign(first, {"user_id": unit})
        b = assign(second, {"user_id": unit})
        both += a.variant is not None and b.variant is not None
        in_first += a.variant is not None
        assert (a.variant is None) != (b.variant is None)
        excluded = a if a.variant is None else b
        assert excluded.reason == AssignmentReason.LAYER_EXCLUDED
        assert excluded.bucket == bucket("layer:checkout", unit)
    assert both == 0
    assert stats.binomtest(in_first, 20000, 0.5).pvalue > 0.001


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"variants": (("a", 50.0), ("b", 40.0))}, "variants"),
        ({"variants": (("a", 50.0), ("a", 50.0))}, "variants"),
        ({"variants": (("a", 33.333), ("b", 66.667))}, "variants[0].weight"),
        ({"traffic_allocation": 101.0}, "traffic_allocation"),
        ({"layer": Layer("l", 5000, 5000)}, "layer"),
    ],
)
def test_compile_experiment__refused(overrides: dict[str, object], path: str) -> None:
    with pytest.raises(RuleValidationError) as info:
        compile_experiment(experiment(**overrides))
    assert path in [p for p, _ in info.value.errors]
