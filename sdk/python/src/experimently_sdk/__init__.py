"""Experimently evaluation engine (pure, no I/O).

Save time: :func:`validate_flag`, :func:`validate_segment`, :func:`validate_experiment_targeting`;
stored targeting read back: :func:`parse_targeting` (raises on bad input).
Run time: :meth:`Ruleset.from_payload` then :class:`Evaluator`. Experiments: :func:`assign`.
"""

from .assignment import (
    Assignment,
    AssignmentReason,
    CompiledExperiment,
    ExperimentDef,
    Layer,
    assign,
    compile_experiment,
)
from .bucketing import bucket, unit_text
from .compile import CompiledFlag, ExperimentResolver
from .errors import RuleValidationError
from .evaluate import Evaluator
from .model import (
    Condition,
    ErrorCode,
    EvaluationResult,
    FlagConfig,
    FlagType,
    Operator,
    Reason,
    SegmentConfig,
)
from .operators import Matcher
from .ruleset import Ruleset
from .validate import parse_targeting, validate_experiment_targeting, validate_flag, validate_segment

__all__ = [
    "Assignment",
    "AssignmentReason",
    "CompiledExperiment",
    "CompiledFlag",
    "Condition",
    "ErrorCode",
    "EvaluationResult",
    "Evaluator",
    "ExperimentDef",
    "ExperimentResolver",
    "FlagConfig",
    "FlagType",
    "Layer",
    "Matcher",
    "Operator",
    "Reason",
    "RuleValidationError",
    "Ruleset",
    "SegmentConfig",
    "assign",
    "bucket",
    "compile_experiment",
    "parse_targeting",
    "unit_text",
    "validate_experiment_targeting",
    "validate_flag",
    "validate_segment",
]
