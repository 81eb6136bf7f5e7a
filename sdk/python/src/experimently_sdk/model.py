"""Parsed, validated configuration (frozen dataclasses), evaluation results, and the engine's bounds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "CASE_INSENSITIVE_OPERATORS",
    "MAX_PREREQUISITE_DEPTH",
    "NEGATIVE_TWINS",
    "SEGMENT_OPERATORS",
    "Condition",
    "ErrorCode",
    "EvaluationResult",
    "ExperimentServe",
    "FlagConfig",
    "FlagType",
    "Operator",
    "Prerequisite",
    "Reason",
    "Rollout",
    "Rule",
    "SegmentConfig",
    "Serve",
    "Target",
    "Variation",
    "WeightedVariation",
]


class FlagType(StrEnum):
    BOOLEAN = "boolean"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    MATCHES = "matches"
    SEMVER_EQ = "semver_eq"
    SEMVER_GT = "semver_gt"
    SEMVER_GTE = "semver_gte"
    SEMVER_LT = "semver_lt"
    SEMVER_LTE = "semver_lte"
    BEFORE = "before"
    AFTER = "after"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    CONTAINS_ANY = "contains_any"
    CONTAINS_ALL = "contains_all"
    IN_CIDR = "in_cidr"
    IN_SEGMENT = "in_segment"
    NOT_IN_SEGMENT = "not_in_segment"


SEGMENT_OPERATORS = frozenset({Operator.IN_SEGMENT, Operator.NOT_IN_SEGMENT})

# prerequisite chains longer than this evaluate as unmet (validation refuses cycles)
MAX_PREREQUISITE_DEPTH = 32

# negative operator -> its positive twin (the negative is exactly `not` of the twin)
NEGATIVE_TWINS: dict[Operator, Operator] = {
    Operator.NEQ: Operator.EQ,
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_CONTAINS: Operator.CONTAINS,
    Operator.NOT_IN_SEGMENT: Operator.IN_SEGMENT,
    Operator.NOT_EXISTS: Operator.EXISTS,
}

CASE_INSENSITIVE_OPERATORS = frozenset(
    {
        Operator.EQ,
        Operator.NEQ,
        Operator.IN,
        Operator.NOT_IN,
        Operator.CONTAINS,
        Operator.NOT_CONTAINS,
        Operator.STARTS_WITH,
        Operator.ENDS_WITH,
        Operator.MATCHES,
        Operator.CONTAINS_ANY,
        Operator.CONTAINS_ALL,
    }
)


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    operator: Operator
    values: tuple[Any, ...]
    negate: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Variation:
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Target:
    variation: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WeightedVariation:
    variation: str
    weight: float  # percent, as configured
    basis_points: int  # weight x 100, exact


@dataclass(frozen=True, slots=True)
class Rollout:
    variations: tuple[WeightedVariation, ...]
    bucket_by: str | None = None  # None: the flag's bucket_by


@dataclass(frozen=True, slots=True)
class ExperimentServe:
    key: str
    variations: tuple[tuple[str, str], ...]  # (experiment variant, flag variation)


@dataclass(frozen=True, slots=True)
class Serve:
    """Exactly one of the three is set."""

    variation: str | None = None
    rollout: Rollout | None = None
    experiment: ExperimentServe | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    conditions: tuple[Condition, ...]
    serve: Serve


@dataclass(frozen=True, slots=True)
class Prerequisite:
    flag: str
    variation: str


@dataclass(frozen=True, slots=True)
class FlagConfig:
    key: str
    type: FlagType
    version: int
    salt: str
    variations: tuple[Variation, ...]
    enabled: bool
    off_variation: str
    targets: tuple[Target, ...]
    rules: tuple[Rule, ...]
    fallthrough: Serve
    prerequisites: tuple[Prerequisite, ...]
    bucket_by: str = "user_id"

    def variation(self, key: str) -> Variation:
        for variation in self.variations:
            if variation.key == key:
                return variation
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    key: str
    conditions: tuple[Condition, ...]


class Reason(StrEnum):
    """Why a value was served (OpenFeature vocabulary)."""

    STATIC = "STATIC"
    DEFAULT = "DEFAULT"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    PARSE_ERROR = "PARSE_ERROR"
    GENERAL = "GENERAL"


class EvaluationResult(NamedTuple):
    """The outcome of one evaluation; immutable, and shared between calls where it can be.

    A named tuple rather than a frozen dataclass: building one is a single C-level tuple
    construction, ~6x cheaper than a frozen dataclass's eleven ``object.__setattr__`` calls, and
    its fields are read through C accessors. Compare results field by field (or with ``==`` between
    results); serialise them with :meth:`to_dict`.
    """

    flag_key: str
    value: Any
    variation: str | None
    reason: Reason
    rule_id: str | None = None
    rule_index: int | None = None
    error_code: ErrorCode | None = None
    bucket: int | None = None
    experiment_key: str | None = None
    experiment_variant: str | None = None
    prerequisite_failed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag_key": self.flag_key,
            "value": self.value,
            "variation": self.variation,
            "reason": str(self.reason),
            "rule_id": self.rule_id,
            "rule_index": self.rule_index,
            "error_code": None if self.error_code is None else str(self.error_code),
            "bucket": self.bucket,
            "experiment_key": self.experiment_key,
            "experiment_variant": self.experiment_variant,
            "prerequisite_failed": self.prerequisite_failed,
        }
