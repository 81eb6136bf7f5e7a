"""Compile validated flags into closures, and hold one environment's compiled ruleset.

A compiled flag is a single ``run(context, default, resolver, ruleset, depth)`` closure built for
the flag's shape (a disabled flag returns a constant; a flag with only a fallthrough runs only the
fallthrough). Results that do not depend on the caller's default are built once and shared: fixed
variations at compile time, rollout results once per bucket (lazily, at most 10,000 per rollout).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from .bucketing import BUCKETS, cumulative_boundaries, unit_text, utf8
from .bucketing import _hash as murmur
from .model import (
    MAX_PREREQUISITE_DEPTH,
    SEGMENT_OPERATORS,
    ErrorCode,
    EvaluationResult,
    ExperimentServe,
    FlagConfig,
    FlagType,
    Reason,
    Rollout,
    Serve,
)
from .operators import Context, Matcher, Segments, SegmentScope, compile_conditions

__all__ = ["CompiledFlag", "ExperimentResolver", "FlagTable", "compile_flag", "compile_segment_matcher"]

ExperimentResolver = Callable[[str, Mapping[str, Any]], "str | None"]
ServeFn = Callable[[Context, Any, "ExperimentResolver | None"], "EvaluationResult | None"]
_new_tuple = tuple.__new__  # builds an EvaluationResult without its Python-level __new__


class FlagTable(Protocol):
    """What a compiled flag needs from its ruleset at evaluation time."""

    @property
    def compiled(self) -> Mapping[str, CompiledFlag]: ...

    @property
    def segment_matchers(self) -> Segments: ...


RunFn = Callable[[Context, Any, "ExperimentResolver | None", FlagTable, int], EvaluationResult]

_VALUE_TYPES: dict[FlagType, tuple[type, ...] | None] = {
    FlagType.BOOLEAN: (bool,),
    FlagType.STRING: (str,),
    FlagType.NUMBER: (int, float),
    FlagType.JSON: None,
}


@dataclass(frozen=True, slots=True, eq=False)
class CompiledFlag:
    config: FlagConfig
    run: RunFn
    value_types: tuple[type, ...] | None  # types a caller's default may have (None: any)

    @property
    def key(self) -> str:
        return self.config.key

    @property
    def version(self) -> int:
        return self.config.version


def compile_segment_matcher(conditions: tuple[Matcher, ...]) -> Matcher:
    """A segment matches when ALL its conditions match."""

    def match(ctx: Context, segments: Segments) -> bool:
        for condition in conditions:  # noqa: SIM110 - a plain loop: no generator in the hot path
            if not condition(ctx, segments):
                return False
        return True

    return match


def error_result(flag_key: str, default: Any, code: ErrorCode, **extra: Any) -> EvaluationResult:
    return EvaluationResult(flag_key, default, None, Reason.ERROR, error_code=code, **extra)


def compile_flag(flag: FlagConfig) -> CompiledFlag:
    return CompiledFlag(flag, _compile_run(flag), _VALUE_TYPES[flag.type])


def _fixed(flag: FlagConfig, variation: str, reason: Reason, **extra: Any) -> EvaluationResult:
    return EvaluationResult(flag.key, flag.variation(variation).value, variation, reason, **extra)


def _compile_run(flag: FlagConfig) -> RunFn:
    off = _fixed(flag, flag.off_variation, Reason.DISABLED)
    if not flag.enabled:
        return lambda ctx, default, resolver, table, depth: off
    has_targeting = bool(flag.targets or flag.rules)
    fallthrough = _compile_serve(
        flag, flag.fallthrough, None, None, Reason.DEFAULT if has_targeting else Reason.STATIC
    )
    fallthrough_off = _fixed(flag, flag.off_variation, Reason.DEFAULT)
    if not has_targeting and not flag.prerequisites and flag.fallthrough.experiment is None:
        # fixed and rollout serves never return None and accept (and ignore) table and depth
        return cast(RunFn, fallthrough)
    targets = _targets_table(flag)
    rules = tuple(
        (
            compile_conditions(rule.conditions),
            _compile_serve(flag, rule.serve, rule.id, i, Reason.TARGETING_MATCH),
        )
        for i, rule in enumerate(flag.rules)
    )
    prerequisites = tuple((p.flag, p.variation) for p in flag.prerequisites)
    # one membership memo per evaluation when a rule refers to segments (see SegmentScope)
    scoped = any(c.operator in SEGMENT_OPERATORS for rule in flag.rules for c in rule.conditions)
    unmet = {
        key: _fixed(flag, flag.off_variation, Reason.DISABLED, prerequisite_failed=key)
        for key, _ in prerequisites
    }

    def run(
        ctx: Context, default: Any, resolver: ExperimentResolver | None, table: FlagTable, depth: int
    ) -> EvaluationResult:
        for key, variation in prerequisites:
            if not _prerequisite_met(key, variation, ctx, resolver, table, depth):
                return unmet[key]
        if targets:
            user = unit_text(ctx.get("user_id"))
            target = None if user is None else targets.get(user)
            if target is not None:
                return target
        segments: Segments = table.segment_matchers
        if scoped:
            segments = SegmentScope(segments)
        for conditions, serve in rules:
            for condition in conditions:
                if not condition(ctx, segments):
                    break
            else:
                result = serve(ctx, default, resolver)
                if result is not None:
                    return result
        return fallthrough(ctx, default, resolver) or fallthrough_off

    return run


def _prerequisite_met(
    key: str, variation: str, ctx: Context, resolver: ExperimentResolver | None, table: FlagTable, depth: int
) -> bool:
    other = table.compiled.get(key)
    if other is None or depth >= MAX_PREREQUISITE_DEPTH:
        return False
    result = other.run(ctx, None, resolver, table, depth + 1)
    return result.variation == variation and result.reason not in (Reason.DISABLED, Reason.ERROR)


def _targets_table(flag: FlagConfig) -> dict[str, EvaluationResult]:
    table: dict[str, EvaluationResult] = {}
    for target in flag.targets:
        result = _fixed(flag, target.variation, Reason.TARGETING_MATCH)
        for value in target.values:
            table.setdefault(value, result)
    return table


def _compile_serve(
    flag: FlagConfig, serve: Serve, rule_id: str | None, index: int | None, reason: Reason
) -> ServeFn:
    if serve.rollout is not None:
        return _rollout_serve(flag, serve.rollout, rule_id, index)
    if serve.experiment is not None:
        return _experiment_serve(flag, serve.experiment, rule_id, index)
    assert serve.variation is not None
    result = _fixed(flag, serve.variation, reason, rule_id=rule_id, rule_index=index)

    def fixed(
        ctx: Context, default: Any, resolver: ExperimentResolver | None, table: Any = None, depth: int = 0
    ) -> EvaluationResult:
        return result

    return fixed


def _rollout_serve(flag: FlagConfig, rollout: Rollout, rule_id: str | None, index: int | None) -> ServeFn:
    attribute = rollout.bucket_by or flag.bucket_by
    prefix = flag.salt + ":"
    bounds = cumulative_boundaries([w.basis_points for w in rollout.variations])
    choices = [(v.value, v.key) for v in (flag.variation(w.variation) for w in rollout.variations)]
    cache: dict[int, EvaluationResult] = {}  # shared results, one per bucket used
    key = flag.key
    split = Reason.SPLIT

    def serve(
        ctx: Context, default: Any, resolver: ExperimentResolver | None, table: Any = None, depth: int = 0
    ) -> EvaluationResult | None:
        unit = ctx.get(attribute)
        if type(unit) is not str:
            unit = unit_text(unit)
            if unit is None:
                return error_result(
                    key, default, ErrorCode.INVALID_CONTEXT, rule_id=rule_id, rule_index=index
                )
        hashed = prefix + unit
        bucket = murmur(hashed if hashed.isascii() else utf8(hashed), 0, False) % BUCKETS
        result: EvaluationResult | None = cache.get(bucket)
        if result is None:  # built here, not in a helper: one Python call less on a miss
            value, variation = choices[bisect_right(bounds, bucket)]  # = pick(bounds, bucket)
            fields = (key, value, variation, split, rule_id, index, None, bucket, None, None, None)
            result = _new_tuple(EvaluationResult, fields)
            cache[bucket] = result
        return result

    return serve


def _experiment_serve(
    flag: FlagConfig, experiment: ExperimentServe, rule_id: str | None, index: int | None
) -> ServeFn:
    results = {
        variant: _fixed(
            flag,
            variation,
            Reason.TARGETING_MATCH,
            rule_id=rule_id,
            rule_index=index,
            experiment_key=experiment.key,
            experiment_variant=variant,
        )
        for variant, variation in experiment.variations
    }
    experiment_key = experiment.key

    def serve(ctx: Context, default: Any, resolver: ExperimentResolver | None) -> EvaluationResult | None:
        if resolver is None:
            return None
        variant = resolver(experiment_key, ctx)
        return None if variant is None else results.get(variant)

    return serve
