"""Power and sample size: closed-form normal approximation, two arms of equal size.

``n per arm = (z_{1-alpha/2} + z_{power})^2 (var_c + var_t) / delta^2`` with
``delta = baseline x relative MDE``; means use the baseline variance in both arms,
binomial metrics ``p1(1-p1) + p2(1-p2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from experimently.stats.inference import clamp_probability
from experimently.stats.lazy import lazy
from experimently.stats.model import (
    Alternative,
    DaysResult,
    MdeResult,
    MessageCode,
    MetricKind,
    PowerResult,
    SampleSizeResult,
)
from experimently.stats.validate import is_finite, valid_alpha

stats = lazy("scipy.stats")

MAX_UNITS = 1e18  # beyond this a count of units (or days) means nothing: NUMERIC_RANGE


@dataclass(frozen=True, slots=True)
class _Design:
    kind: MetricKind
    baseline: float
    variance: float | None
    alpha: float
    alternative: Alternative


def _problem(d: _Design, *numbers: float) -> MessageCode | None:
    """INVALID_INPUT (checked first) or ZERO_VARIANCE for a design; None when usable."""
    if not (valid_alpha(d.alpha) and is_finite(d.baseline, d.variance, *numbers)) or d.baseline == 0:
        return MessageCode.INVALID_INPUT
    if d.kind is MetricKind.BINOMIAL:
        return None if 0.0 < d.baseline < 1.0 else MessageCode.INVALID_INPUT
    if d.variance is None or d.variance < 0:
        return MessageCode.INVALID_INPUT
    return MessageCode.ZERO_VARIANCE if d.variance == 0 else None


def _z_alpha(d: _Design) -> float:
    tail = d.alpha / 2.0 if d.alternative is Alternative.TWO_SIDED else d.alpha
    return float(stats.norm.isf(tail))  # isf, not ppf(1 - tail): 1 - 5e-17 rounds to 1.0


def _variance_sum(d: _Design, relative_mde: float) -> float | None:
    """var_c + var_t per unit; None when the binomial alternative rate leaves [0, 1]."""
    if d.kind is not MetricKind.BINOMIAL:
        assert d.variance is not None
        return 2.0 * d.variance
    p1 = d.baseline
    p2 = p1 * (1.0 + relative_mde)
    if not 0.0 <= p2 <= 1.0:
        return None
    return p1 * (1.0 - p1) + p2 * (1.0 - p2)


def sample_size(
    kind: MetricKind,
    baseline_mean: float,
    relative_mde: float,
    *,
    baseline_variance: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = Alternative.TWO_SIDED,
) -> SampleSizeResult:
    """Units per arm (rounded up) to detect ``relative_mde`` x baseline with the given power."""
    d = _Design(kind, baseline_mean, baseline_variance, alpha, alternative)
    problem = _problem(d, relative_mde, power)
    if problem is None and (relative_mde == 0 or not 0.0 < power < 1.0):
        problem = MessageCode.INVALID_INPUT
    var_sum = _variance_sum(d, relative_mde) if problem is None else None
    if problem is None and var_sum is None:
        problem = MessageCode.INVALID_INPUT
    if problem is not None or var_sum is None:
        return SampleSizeResult(None, None, (problem or MessageCode.INVALID_INPUT,))
    delta = baseline_mean * relative_mde
    z = _z_alpha(d) + float(stats.norm.ppf(power))
    if not math.isfinite(z) or not math.isfinite(delta * delta) or delta * delta == 0:
        return SampleSizeResult(None, None, (MessageCode.NUMERIC_RANGE,))
    exact = z * z * var_sum / (delta * delta)
    if not math.isfinite(exact) or exact > MAX_UNITS:
        return SampleSizeResult(None, None, (MessageCode.NUMERIC_RANGE,))
    per_arm = max(math.ceil(exact * (1.0 - 1e-12)), 2)
    return SampleSizeResult(per_arm, 2 * per_arm)


def _binomial_mde(p1: float, n: int, z: float) -> float | None:
    """Positive delta solving n = z^2 (p1(1-p1) + p2(1-p2)) / delta^2 with p2 = p1 + delta (a quadratic)."""
    k = z * z
    a, b, c = n + k, -k * (1.0 - 2.0 * p1), -2.0 * k * p1 * (1.0 - p1)
    delta = (-b + math.sqrt(b * b - 4.0 * a * c)) / (2.0 * a)
    return delta if p1 + delta <= 1.0 else None


def mde(
    kind: MetricKind,
    baseline_mean: float,
    units_per_arm: int,
    *,
    baseline_variance: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = Alternative.TWO_SIDED,
) -> MdeResult:
    """Smallest upward relative effect detectable with ``units_per_arm`` units in each arm."""
    d = _Design(kind, baseline_mean, baseline_variance, alpha, alternative)
    problem = _problem(d, power)
    if problem is None and (units_per_arm < 1 or not 0.0 < power < 1.0):
        problem = MessageCode.INVALID_INPUT
    if problem is not None:
        return MdeResult(None, None, (problem,))
    z = _z_alpha(d) + float(stats.norm.ppf(power))
    if not math.isfinite(z):
        return MdeResult(None, None, (MessageCode.NUMERIC_RANGE,))
    if kind is MetricKind.BINOMIAL:
        delta = _binomial_mde(baseline_mean, units_per_arm, z)
        if delta is None:
            return MdeResult(None, None, (MessageCode.NOT_ENOUGH_DATA,))
    else:
        assert baseline_variance is not None
        delta = z * math.sqrt(2.0 * baseline_variance / units_per_arm)
    relative = delta / abs(baseline_mean)
    if not (math.isfinite(delta) and math.isfinite(relative)):  # a variance near the largest double
        return MdeResult(None, None, (MessageCode.NUMERIC_RANGE,))
    return MdeResult(relative, delta)


def power(
    kind: MetricKind,
    baseline_mean: float,
    relative_mde: float,
    units_per_arm: int,
    *,
    baseline_variance: float | None = None,
    alpha: float = 0.05,
    alternative: Alternative = Alternative.TWO_SIDED,
) -> PowerResult:
    """Power of the test (normal approximation; two-sided power counts both rejection tails)."""
    d = _Design(kind, baseline_mean, baseline_variance, alpha, alternative)
    problem = _problem(d, relative_mde)
    if problem is None and units_per_arm < 1:
        problem = MessageCode.INVALID_INPUT
    var_sum = _variance_sum(d, relative_mde) if problem is None else None
    if problem is not None or var_sum is None:
        return PowerResult(None, (problem or MessageCode.INVALID_INPUT,))
    if var_sum == 0:
        return PowerResult(None, (MessageCode.ZERO_VARIANCE,))
    spread = math.sqrt(var_sum / units_per_arm)
    if spread == 0 or not math.isfinite(spread):
        return PowerResult(None, (MessageCode.NUMERIC_RANGE,))
    shift = baseline_mean * relative_mde / spread
    z = _z_alpha(d)
    if alternative is Alternative.TWO_SIDED:
        value = stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)
    else:
        value = stats.norm.cdf((shift if alternative is Alternative.GREATER else -shift) - z)
    return PowerResult(clamp_probability(float(value)))


def days_to_sample(required_total: int, daily_units: float) -> DaysResult:
    """Whole days of traffic needed to reach ``required_total`` units."""
    if not is_finite(required_total, daily_units) or required_total < 0 or daily_units <= 0:
        return DaysResult(None, (MessageCode.INVALID_INPUT,))
    days = required_total / daily_units
    if not math.isfinite(days) or days > MAX_UNITS:
        return DaysResult(None, (MessageCode.NUMERIC_RANGE,))
    return DaysResult(math.ceil(days))
