"""Corners of assignment and bucketing the other engine tests leave open (found by mutation testing):
layer ranges, the traffic threshold boundary, boolean bucketing text, range boundaries and the exact
messages of refused experiment definitions."""

from __future__ import annotations

import pytest

from experimently_sdk import RuleValidationError, assign, bucket, compile_experiment
from experimently_sdk.assignment import AssignmentReason, ExperimentDef, Layer
from experimently_sdk.bucketing import cumulative_boundaries, unit_text

HALVES = (("control", 50.0), ("treatment", 50.0))


def test_layer__inside_range_assigned__outside_excluded_with_layer_bucket() -> None:
    units = [f"u-{i}" for i in range(60)]
    layer_buckets = {u: bucket("layer:shared", u) for u in units}
    compiled = compile_experiment(ExperimentDef("exp", "exp", HALVES, layer=Layer("shared", 0, 5000)))
    reasons = set()
    for unit in units:
        result = assign(compiled, {"user_id": unit})
        if layer_buckets[unit] < 5000:
            assert result.reason == AssignmentReason.ASSIGNED and result.variant is not None
        else:
            assert (result.reason, result.bucket, result.variant) == (
                AssignmentReason.LAYER_EXCLUDED,
                layer_buckets[unit],
                None,
            )
        reasons.add(result.reason)
    assert reasons == {AssignmentReason.ASSIGNED, AssignmentReason.LAYER_EXCLUDED}


def test_no_layer__layer_bucket_never_consulted() -> None:
    compiled = compile_experiment(ExperimentDef("exp", "exp", HALVES))
    assert all(assign(compiled, {"user_id": f"u-{i}"}).reason == AssignmentReason.ASSIGNED for i in range(50))


def test_traffic__bucket_equal_to_threshold_is_excluded() -> None:
    unit = "u-1"
    threshold = bucket("exp:traffic", unit)  # the unit's traffic bucket, as basis points of traffic
    just_out = compile_experiment(ExperimentDef("exp", "exp", HALVES, traffic_allocation=threshold / 100))
    just_in = compile_experiment(
        ExperimentDef("exp", "exp", HALVES, traffic_allocation=(threshold + 1) / 100)
    )
    assert assign(just_out, {"user_id": unit}).reason == AssignmentReason.TRAFFIC_EXCLUDED
    assert assign(just_in, {"user_id": unit}).reason == AssignmentReason.ASSIGNED


def test_unit_text__booleans() -> None:
    assert (unit_text(True), unit_text(False)) == ("true", "false")


def test_cumulative_boundaries__start_at_zero() -> None:
    assert cumulative_boundaries([5000, 5000]) == (5000, 10000)
    assert cumulative_boundaries([0, 10000]) == (0, 10000)


@pytest.mark.parametrize(
    ("definition", "errors"),
    [
        (
            ExperimentDef("e", "e", ()),
            [("variants", "must not be empty")],
        ),
        (ExperimentDef("e", "e", (("a", 50.0), ("a", 50.0))), [("variants", "duplicate variant key")]),
        (
            ExperimentDef("e", "e", (("a", 50.0), ("b", 40.0))),
            [("variants", "weights must sum to exactly 100")],
        ),
        (
            ExperimentDef("e", "e", (("a", 50.123), ("b", 49.877))),
            [("variants[0].weight", "at most 2 decimals"), ("variants[1].weight", "at most 2 decimals")],
        ),
        (
            ExperimentDef("e", "e", (("a", 150.0), ("b", -50.0))),
            [
                ("variants[0].weight", "must be a number from 0 to 100"),
                ("variants[1].weight", "must be a number from 0 to 100"),
                ("variants", "weights must sum to exactly 100"),
            ],
        ),
        (
            ExperimentDef("e", "e", HALVES, layer=Layer("l", 5000, 5000)),
            [("layer", "range must satisfy 0 <= range_start < range_end <= 10000")],
        ),
    ],
)
def test_compile_experiment__refused_with_exact_errors(
    definition: ExperimentDef, errors: list[tuple[str, str]]
) -> None:
    with pytest.raises(RuleValidationError) as info:
        compile_experiment(definition)
    assert info.value.errors == errors
