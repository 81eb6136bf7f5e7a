"""Per-arm moments and descriptive summaries for every metric kind."""

from __future__ import annotations

import math

from experimently.stats.estimate import ArmMoments, sample_variance
from experimently.stats.model import ArmSummary, MetricKind, VariantStats
from experimently.stats.ratio import ratio_moments


def arm_moments(kind: MetricKind, v: VariantStats) -> ArmMoments | None:
    """Moments of one arm (n >= 1); None when the metric is undefined (ratio with zero denominator)."""
    if kind is MetricKind.RATIO:
        return ratio_moments(v)
    mean = v.sum / v.n
    if kind is MetricKind.BINOMIAL:
        p = min(max(mean, 0.0), 1.0)
        return ArmMoments(v.n, p, p * (1.0 - p), p in (0.0, 1.0))
    variance = sample_variance(v.n, v.sum, v.sum_squares)
    return ArmMoments(v.n, mean, variance, variance == 0.0)


def summarize(kind: MetricKind, v: VariantStats) -> ArmSummary:
    """Descriptive numbers of one arm, whatever the comparison outcome."""
    moments = arm_moments(kind, v) if v.n > 0 else None
    if moments is None:
        return ArmSummary(v.key, v.n, None, None)
    std_dev = math.sqrt(moments.variance) if v.n > 1 or kind is MetricKind.BINOMIAL else None
    return ArmSummary(v.key, v.n, moments.mean, std_dev)
