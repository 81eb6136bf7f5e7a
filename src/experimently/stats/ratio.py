"""Ratio metrics (delta method) and the winsorization helper.

A ratio metric is ``sum(y) / sum(d)`` over the units of an arm (e.g. revenue per session with units =
users). Its per-unit linearised variance is ``(var(y) - 2 R cov(y, d) + R^2 var(d)) / dbar^2`` with
``R = ybar / dbar`` (all sample moments with divisor n - 1), so ``Var(R_hat) ~ that / n``.

Winsorization (capping) happens in SQL, per unit, before the sufficient statistics are aggregated:
the engine only ever sees sums of already-capped values. :func:`winsorize_values` is the reference
definition the SQL implements, for tests and documentation.
"""

from __future__ import annotations

from collections.abc import Sequence

from experimently.stats.estimate import ArmMoments, sample_variance
from experimently.stats.model import VariantStats
from experimently.stats.validate import is_zero_variance


def ratio_moments(v: VariantStats) -> ArmMoments | None:
    """Ratio of means sum(y)/sum(d) with its delta-method per-unit variance; None if sum(d) is 0."""
    assert v.denom_sum is not None and v.denom_sum_squares is not None and v.num_denom_cross is not None
    if v.n == 0 or v.denom_sum == 0:
        return None
    mean_y, mean_d = v.sum / v.n, v.denom_sum / v.n
    ratio = mean_y / mean_d
    var_y = sample_variance(v.n, v.sum, v.sum_squares, zero_rule=False)
    var_d = sample_variance(v.n, v.denom_sum, v.denom_sum_squares, zero_rule=False)
    cov = (v.num_denom_cross - v.sum * v.denom_sum / v.n) / (v.n - 1) if v.n > 1 else 0.0
    variance = max((var_y - 2 * ratio * cov + ratio * ratio * var_d) / (mean_d * mean_d), 0.0)
    mean_sq = (v.sum_squares + ratio * ratio * v.denom_sum_squares) / v.n / (mean_d * mean_d)
    zero = is_zero_variance(variance, mean_sq)
    return ArmMoments(v.n, ratio, 0.0 if zero else variance, zero)


def winsorize_values(values: Sequence[float], cap: float, floor: float | None = None) -> tuple[float, ...]:
    """Per-unit values capped at ``cap`` (and raised to ``floor`` when given), as SQL applies them."""
    capped = (min(v, cap) for v in values)
    return tuple(capped if floor is None else (max(v, floor) for v in capped))
