"""One entry point per metric: validate, estimate, dispatch to the engine, judge."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from experimently.stats.bayesian import bayesian_inference
from experimently.stats.cuped import cuped_estimate
from experimently.stats.estimate import DiffEstimate, plain_estimate
from experimently.stats.frequentist import frequentist_inference
from experimently.stats.inference import Inference
from experimently.stats.model import (
    Alternative,
    ArmSummary,
    Comparison,
    Engine,
    MessageCode,
    MetricAnalysis,
    MetricKind,
    MetricRole,
    Prior,
    VariantStats,
)
from experimently.stats.moments import arm_moments, summarize
from experimently.stats.sequential import sequential_inference
from experimently.stats.validate import is_finite, valid_alpha, variant_valid
from experimently.stats.verdict import verdict_from_chance, verdict_from_p_value


@dataclass(frozen=True, slots=True)
class Settings:
    kind: MetricKind
    engine: Engine
    alpha: float
    alternative: Alternative
    cuped: bool
    lower_is_better: bool
    prior: Prior | None
    tuning: float
    win_threshold: float
    lose_threshold: float


def _settings_valid(s: Settings) -> bool:
    prior_ok = s.prior is None or (is_finite(s.prior.mean, s.prior.variance) and s.prior.variance > 0)
    thresholds_ok = is_finite(s.win_threshold, s.lose_threshold) and (
        0.0 <= s.lose_threshold < s.win_threshold <= 1.0
    )
    return valid_alpha(s.alpha) and prior_ok and thresholds_ok and is_finite(s.tuning) and s.tuning > 0


def _estimate(
    s: Settings, control: VariantStats, treatment: VariantStats
) -> tuple[DiffEstimate | None, Comparison, bool]:
    """The estimate to test, the comparison skeleton, and whether CUPED adjusted the estimate."""
    if not (
        variant_valid(s.kind, control, cuped=s.cuped) and variant_valid(s.kind, treatment, cuped=s.cuped)
    ):
        arms = (
            ArmSummary(control.key, control.n, None, None),
            ArmSummary(treatment.key, treatment.n, None, None),
        )
        # a sum that is infinite (and nothing NaN): finite values whose sum of squares overflowed
        # where they were added up (a value of 1e200 squared), not an impossible input
        code = MessageCode.NUMERIC_RANGE if _overflowed(control, treatment) else MessageCode.INVALID_INPUT
        return None, Comparison(treatment.key, *arms, messages=(code,)), False
    base = Comparison(treatment.key, summarize(s.kind, control), summarize(s.kind, treatment))
    c = arm_moments(s.kind, control) if control.n >= 2 else None
    t = arm_moments(s.kind, treatment) if treatment.n >= 2 else None
    if c is None or t is None:
        return None, replace(base, messages=(MessageCode.NOT_ENOUGH_DATA,)), False
    if not s.cuped:
        return plain_estimate(s.kind, c, t), base, False
    if s.kind is MetricKind.RATIO:
        return plain_estimate(s.kind, c, t), replace(base, messages=(MessageCode.CUPED_NOT_SUPPORTED,)), False
    adjusted = cuped_estimate(control, treatment)
    if adjusted is None:
        skeleton = replace(
            base, cuped_theta=0.0, cuped_variance_reduction=0.0, messages=(MessageCode.CUPED_NO_PREPERIOD,)
        )
        return plain_estimate(s.kind, c, t), skeleton, False
    skeleton = replace(base, cuped_theta=adjusted.theta, cuped_variance_reduction=adjusted.variance_reduction)
    return adjusted.estimate, skeleton, True


def _infer(s: Settings, est: DiffEstimate, pooled_binomial: bool) -> Inference:
    if s.engine is Engine.SEQUENTIAL:
        return sequential_inference(est, alpha=s.alpha, alternative=s.alternative, tuning=s.tuning)
    if s.engine is Engine.BAYESIAN:
        return bayesian_inference(est, alpha=s.alpha, lower_is_better=s.lower_is_better, prior=s.prior)
    return frequentist_inference(
        est, alpha=s.alpha, alternative=s.alternative, pooled_binomial=pooled_binomial
    )


def _judge(s: Settings, result: Comparison) -> Comparison:
    if s.engine is Engine.BAYESIAN:
        verdict = verdict_from_chance(
            result.chance_to_win,
            win_threshold=s.win_threshold,
            lose_threshold=s.lose_threshold,
        )
    else:
        verdict = verdict_from_p_value(
            result.p_value, result.absolute_lift, alpha=s.alpha, lower_is_better=s.lower_is_better
        )
    return replace(result, verdict=verdict)


def _overflowed(*variants: VariantStats) -> bool:
    """Whether a sum of these variants is infinite while none is NaN (the mark of an overflow)."""
    sums = [
        value
        for v in variants
        for value in (
            v.sum,
            v.sum_squares,
            v.pre_sum,
            v.pre_sum_squares,
            v.cross_sum,
            v.denom_sum,
            v.denom_sum_squares,
            v.num_denom_cross,
        )
        if isinstance(value, int | float)
    ]
    return any(math.isinf(value) for value in sums) and not any(math.isnan(value) for value in sums)


def compare(s: Settings, control: VariantStats, treatment: VariantStats) -> Comparison:
    """One treatment against the control under the given settings.

    Finite inputs can still leave the range of doubles on the way (a control mean of 1e-90 squared
    twice underflows to 0; sums near 1e154 squared overflow): such a comparison carries the message
    NUMERIC_RANGE and no figures, never an exception.
    """
    try:
        return _compare(s, control, treatment)
    except ArithmeticError:  # ZeroDivisionError, OverflowError, FloatingPointError
        arms = (
            ArmSummary(control.key, control.n, None, None),
            ArmSummary(treatment.key, treatment.n, None, None),
        )
        return Comparison(treatment.key, *arms, messages=(MessageCode.NUMERIC_RANGE,))


def _compare(s: Settings, control: VariantStats, treatment: VariantStats) -> Comparison:
    est, skeleton, adjusted = _estimate(s, control, treatment)
    if est is None:
        return skeleton
    messages = list(skeleton.messages)
    if est.relative is None:
        messages.append(MessageCode.CONTROL_MEAN_ZERO)
    df = est.df if s.engine is Engine.FREQUENTIST else None
    if est.zero_variance:
        messages.append(MessageCode.ZERO_VARIANCE)
        return replace(
            skeleton,
            absolute_lift=est.diff,
            relative_lift=est.relative,
            messages=tuple(messages),
        )
    inf = _infer(s, est, pooled_binomial=s.kind is MetricKind.BINOMIAL and not adjusted)
    result = replace(
        skeleton,
        absolute_lift=inf.absolute_lift,
        absolute_interval=inf.absolute_interval,
        relative_lift=inf.relative_lift,
        relative_interval=inf.relative_interval,
        p_value=inf.p_value,
        chance_to_win=inf.chance_to_win,
        risk=inf.risk,
        posterior_sd=inf.posterior_sd,
        degrees_of_freedom=df,
        messages=tuple(messages),
    )
    return _judge(s, result)


def _coerce(value: str, enum: type[MetricKind] | type[Engine] | type[Alternative]) -> object | None:
    """The enum member for ``value``, or None when it names none."""
    try:
        return enum(value)
    except ValueError:
        return None


def analyze_metric(
    kind: MetricKind | str,
    variants: Sequence[VariantStats],
    *,
    control_key: str,
    engine: Engine | str = Engine.FREQUENTIST,
    alpha: float = 0.05,
    alternative: Alternative | str = Alternative.TWO_SIDED,
    cuped: bool = False,
    lower_is_better: bool = False,
    prior: Prior | None = None,
    sequential_tuning: float = 5000.0,
    metric_key: str = "",
    role: MetricRole = MetricRole.GOAL,
    win_threshold: float = 0.95,
    lose_threshold: float = 0.05,
) -> MetricAnalysis:
    """Compare every non-control variant with the control. Never raises on statistical input."""
    k, e, a = _coerce(kind, MetricKind), _coerce(engine, Engine), _coerce(alternative, Alternative)
    s = Settings(
        k if isinstance(k, MetricKind) else MetricKind.MEAN,
        e if isinstance(e, Engine) else Engine.FREQUENTIST,
        alpha,
        a if isinstance(a, Alternative) else Alternative.TWO_SIDED,
        cuped,
        lower_is_better,
        prior,
        sequential_tuning,
        win_threshold,
        lose_threshold,
    )
    analysis = MetricAnalysis(
        metric_key, role, s.kind, s.engine, control_key, alpha, s.alternative, lower_is_better, cuped
    )
    keys = [v.key for v in variants]
    if None in (k, e, a) or not _settings_valid(s) or len(set(keys)) != len(keys) or control_key not in keys:
        return replace(analysis, messages=(MessageCode.INVALID_INPUT,))
    control = variants[keys.index(control_key)]
    comparisons = tuple(compare(s, control, v) for v in variants if v.key != control_key)
    messages = () if comparisons else (MessageCode.NOT_ENOUGH_DATA,)
    return replace(analysis, comparisons=comparisons, messages=messages)
