"""Input checks. ``INVALID_INPUT`` is decided here, before any other rule."""

from __future__ import annotations

import math

from experimently.stats.model import MetricKind, VariantStats

# Relative float tolerance when checking that sums of squares are consistent with the sums.
CONSISTENCY_RTOL = 1e-9
# A variance at or below this fraction of the mean of squares counts as zero (conventions).
ZERO_VARIANCE_RTOL = 1e-12


def is_finite(*values: float | None) -> bool:
    """True when every value that is not None is a finite number."""
    return all(v is None or (isinstance(v, int | float) and math.isfinite(v)) for v in values)


def valid_alpha(alpha: float) -> bool:
    return is_finite(alpha) and 0.0 < alpha < 1.0


def centered_sum_of_squares(n: int, total: float, squares: float) -> float | None:
    """``sum((v - mean)^2)`` from sums, clamped at 0; None when negative beyond float tolerance."""
    if n == 0:
        return 0.0 if total == 0 and squares == 0 else None
    centered = squares - total * total / n
    tolerance = CONSISTENCY_RTOL * max(abs(squares), total * total / n) + 1e-300
    if centered < -tolerance:
        return None
    return max(centered, 0.0)


def centered_cross(n: int, sum_a: float, sum_b: float, cross: float) -> float:
    """``sum((a - mean_a)(b - mean_b))`` from sums (0 for an empty arm)."""
    return cross - sum_a * sum_b / n if n > 0 else 0.0


def cross_consistent(n: int, sa: float, ssa: float, sb: float, ssb: float, cross: float) -> bool:
    """Cauchy-Schwarz: a cross product whose covariance exceeds both standard deviations is impossible."""
    ca = centered_sum_of_squares(n, sa, ssa)
    cb = centered_sum_of_squares(n, sb, ssb)
    if ca is None or cb is None:
        return False
    cab = centered_cross(n, sa, sb, cross)
    bound = math.sqrt(ca * cb)
    scale = math.sqrt(max(abs(ssa), 1e-300) * max(abs(ssb), 1e-300))
    return abs(cab) <= bound + CONSISTENCY_RTOL * scale + 1e-300


def _basic_valid(kind: MetricKind, v: VariantStats) -> bool:
    if not isinstance(v.n, int) or isinstance(v.n, bool) or v.n < 0:
        return False
    if not is_finite(v.sum, v.sum_squares) or v.sum_squares < 0:
        return False
    if kind in (MetricKind.BINOMIAL, MetricKind.COUNT) and v.sum < 0:
        return False
    if kind is MetricKind.BINOMIAL:
        tolerance = CONSISTENCY_RTOL * max(1.0, v.sum)
        if v.sum > v.n + tolerance or abs(v.sum_squares - v.sum) > tolerance:
            return False
    return centered_sum_of_squares(v.n, v.sum, v.sum_squares) is not None


def _ratio_valid(v: VariantStats) -> bool:
    fields = (v.denom_sum, v.denom_sum_squares, v.num_denom_cross)
    if v.n == 0 and all(f is None for f in fields):
        return True  # a variant with no units yet has no sums at all: not enough data, not invalid
    if any(f is None for f in fields) or not is_finite(*fields):
        return False
    assert v.denom_sum is not None and v.denom_sum_squares is not None and v.num_denom_cross is not None
    if v.denom_sum_squares < 0:
        return False
    return cross_consistent(v.n, v.sum, v.sum_squares, v.denom_sum, v.denom_sum_squares, v.num_denom_cross)


def has_preperiod(v: VariantStats) -> bool:
    return v.pre_sum is not None and v.pre_sum_squares is not None and v.cross_sum is not None


def _preperiod_valid(v: VariantStats) -> bool:
    fields = (v.pre_sum, v.pre_sum_squares, v.cross_sum)
    present = [f is not None for f in fields]
    if not any(present):
        return True
    if not all(present) or not is_finite(*fields):
        return False
    assert v.pre_sum is not None and v.pre_sum_squares is not None and v.cross_sum is not None
    if v.pre_sum_squares < 0:
        return False
    return cross_consistent(v.n, v.pre_sum, v.pre_sum_squares, v.sum, v.sum_squares, v.cross_sum)


def variant_valid(kind: MetricKind, v: VariantStats, *, cuped: bool) -> bool:
    """False when the sufficient statistics of one variant are impossible."""
    if not _basic_valid(kind, v):
        return False
    if kind is MetricKind.RATIO and not _ratio_valid(v):
        return False
    return not (cuped and kind is not MetricKind.RATIO and not _preperiod_valid(v))


def is_zero_variance(variance: float, mean_of_squares: float) -> bool:
    """The conventions' zero rule: variance <= 1e-12 x mean of squares."""
    return variance <= ZERO_VARIANCE_RTOL * abs(mean_of_squares)
