"""Experiment assignment (pure): which variant a unit gets, and why.

Order: unit attribute present -> targeting conditions -> layer range -> traffic -> variant.

- layer: ``bucket(f"layer:{layer_salt}", unit)`` must lie in ``[range_start, range_end)``, so
  experiments of one layer with disjoint ranges never share a unit;
- traffic: ``bucket(f"{salt}:traffic", unit) < traffic_allocation x 100``, so raising the allocation
  only adds units;
- variant: cumulative weights over ``bucket(f"{salt}:variant", unit)``, independent of traffic.

The server persists assignments (stickiness); this module only computes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .bucketing import BUCKETS, bucket, cumulative_boundaries, pick, unit_text
from .errors import RuleValidationError
from .model import Condition
from .operators import Matcher, Segments, compile_conditions

__all__ = [
    "Assignment",
    "AssignmentReason",
    "CompiledExperiment",
    "ExperimentDef",
    "Layer",
    "assign",
    "compile_experiment",
]


class AssignmentReason(StrEnum):
    ASSIGNED = "ASSIGNED"
    NOT_TARGETED = "NOT_TARGETED"
    TRAFFIC_EXCLUDED = "TRAFFIC_EXCLUDED"
    LAYER_EXCLUDED = "LAYER_EXCLUDED"
    MISSING_UNIT = "MISSING_UNIT"


@dataclass(frozen=True, slots=True)
class Layer:
    salt: str
    range_start: int  # bucket, inclusive
    range_end: int  # bucket, exclusive (<= 10000)


@dataclass(frozen=True, slots=True)
class ExperimentDef:
    key: str
    salt: str
    variants: tuple[tuple[str, float], ...]  # (variant key, weight percent); weights sum to 100
    traffic_allocation: float = 100.0  # percent of eligible units that enter
    conditions: tuple[Condition, ...] = ()  # see validate_experiment_targeting
    bucket_by: str = "user_id"
    layer: Layer | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """``bucket``: the variant bucket when ASSIGNED, the traffic bucket when TRAFFIC_EXCLUDED,
    the layer bucket when LAYER_EXCLUDED, else None."""

    variant: str | None
    reason: AssignmentReason
    bucket: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class CompiledExperiment:
    definition: ExperimentDef
    matchers: tuple[Matcher, ...]
    boundaries: tuple[int, ...]
    traffic_threshold: int  # basis points
    traffic_seed: str
    variant_seed: str
    layer_seed: str | None


def _basis_points(value: Any, path: str, errors: list[tuple[str, str]]) -> int:
    if type(value) not in (int, float) or not 0 <= value <= 100:
        errors.append((path, "must be a number from 0 to 100"))
        return 0
    points = round(value * 100)
    if abs(value * 100 - points) > 1e-6:
        errors.append((path, "at most 2 decimals"))
    return int(points)


def compile_experiment(exp: ExperimentDef) -> CompiledExperiment:
    """Check weights, traffic and layer range, and compile the targeting conditions."""
    errors: list[tuple[str, str]] = []
    if not exp.variants:
        errors.append(("variants", "must not be empty"))
    keys = [key for key, _ in exp.variants]
    if len(set(keys)) != len(keys):
        errors.append(("variants", "duplicate variant key"))
    points = [_basis_points(w, f"variants[{i}].weight", errors) for i, (_, w) in enumerate(exp.variants)]
    if exp.variants and sum(points) != BUCKETS:
        errors.append(("variants", "weights must sum to exactly 100"))
    traffic = _basis_points(exp.traffic_allocation, "traffic_allocation", errors)
    layer = exp.layer
    if layer is not None and not 0 <= layer.range_start < layer.range_end <= BUCKETS:
        errors.append(("layer", "range must satisfy 0 <= range_start < range_end <= 10000"))
    if errors:
        raise RuleValidationError(errors)
    return CompiledExperiment(
        definition=exp,
        matchers=compile_conditions(exp.conditions),
        boundaries=cumulative_boundaries(points),
        traffic_threshold=traffic,
        traffic_seed=f"{exp.salt}:traffic",
        variant_seed=f"{exp.salt}:variant",
        layer_seed=None if layer is None else f"layer:{layer.salt}",
    )


_EMPTY_SEGMENTS: Segments = {}


def assign(
    exp: CompiledExperiment, context: Mapping[str, Any], segments: Segments | None = None
) -> Assignment:
    """The assignment of ``context``; ``segments`` are compiled segment matchers
    (``Ruleset.segment_matchers``) for conditions that use segment operators."""
    definition = exp.definition
    unit = unit_text(context.get(definition.bucket_by)) if isinstance(context, Mapping) else None
    if unit is None:
        return Assignment(None, AssignmentReason.MISSING_UNIT)
    segs = _EMPTY_SEGMENTS if segments is None else segments
    for matcher in exp.matchers:
        if not matcher(context, segs):
            return Assignment(None, AssignmentReason.NOT_TARGETED)
    layer = definition.layer
    if layer is not None and exp.layer_seed is not None:
        layer_bucket = bucket(exp.layer_seed, unit)
        if not layer.range_start <= layer_bucket < layer.range_end:
            return Assignment(None, AssignmentReason.LAYER_EXCLUDED, layer_bucket)
    traffic_bucket = bucket(exp.traffic_seed, unit)
    if traffic_bucket >= exp.traffic_threshold:
        return Assignment(None, AssignmentReason.TRAFFIC_EXCLUDED, traffic_bucket)
    variant_bucket = bucket(exp.variant_seed, unit)
    variant = definition.variants[pick(exp.boundaries, variant_bucket)][0]
    return Assignment(variant, AssignmentReason.ASSIGNED, variant_bucket)
