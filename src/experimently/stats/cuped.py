"""CUPED: variance reduction with a pre-period covariate (Deng et al. 2013).

theta = cov(x, y) / var(x), both pooled over the two arms as one sample. The adjusted difference is
``(ybar_t - ybar_c) - theta (xbar_t - xbar_c)``; theta is treated as known, so each arm's adjusted
per-unit variance is ``var(y) - 2 theta cov(x, y) + theta^2 var(x)`` (within the arm) and the test is
Welch's t on those variances. The relative lift is ``adjusted difference / unadjusted control mean``;
its delta-method interval keeps the raw treatment mean and uses the adjusted variances.
"""

from __future__ import annotations

from dataclasses import dataclass

from experimently.stats.estimate import DiffEstimate, sample_variance, welch_df
from experimently.stats.model import VariantStats
from experimently.stats.validate import has_preperiod, is_zero_variance


@dataclass(frozen=True, slots=True)
class CupedEstimate:
    """The adjusted estimate, theta and ``1 - var(adjusted diff) / var(unadjusted diff)``."""

    estimate: DiffEstimate
    theta: float
    variance_reduction: float


def _covariance(n: int, sum_x: float, sum_y: float, cross: float) -> float:
    return (cross - sum_x * sum_y / n) / (n - 1)


def cuped_theta(control: VariantStats, treatment: VariantStats) -> float | None:
    """theta pooled over both arms as one sample; None without pre-period data or pre-period variance."""
    if not (has_preperiod(control) and has_preperiod(treatment)):
        return None
    arms = (control, treatment)
    n = control.n + treatment.n
    sum_x = sum(float(a.pre_sum or 0.0) for a in arms)
    sum_xx = sum(float(a.pre_sum_squares or 0.0) for a in arms)
    sum_y = sum(a.sum for a in arms)
    sum_xy = sum(float(a.cross_sum or 0.0) for a in arms)
    var_x = sample_variance(n, sum_x, sum_xx)
    if var_x == 0.0:
        return None
    return _covariance(n, sum_x, sum_y, sum_xy) / var_x


def adjusted_variance(v: VariantStats, theta: float) -> float:
    """Per-unit variance of ``y - theta x`` within one arm (sample variance, clamped at 0)."""
    assert v.pre_sum is not None and v.pre_sum_squares is not None and v.cross_sum is not None
    var_y = sample_variance(v.n, v.sum, v.sum_squares, zero_rule=False)
    var_x = sample_variance(v.n, v.pre_sum, v.pre_sum_squares, zero_rule=False)
    cov = _covariance(v.n, v.pre_sum, v.sum, v.cross_sum)
    variance = max(var_y - 2.0 * theta * cov + theta * theta * var_x, 0.0)
    return 0.0 if is_zero_variance(variance, v.sum_squares / v.n) else variance


def cuped_estimate(control: VariantStats, treatment: VariantStats) -> CupedEstimate | None:
    """The CUPED-adjusted difference (both arms n >= 2); None when there is no usable pre-period."""
    theta = cuped_theta(control, treatment)
    if theta is None:
        return None
    assert control.pre_sum is not None and treatment.pre_sum is not None
    mean_c, mean_t = control.sum / control.n, treatment.sum / treatment.n
    pre_diff = treatment.pre_sum / treatment.n - control.pre_sum / control.n
    adjusted_diff = (mean_t - mean_c) - theta * pre_diff
    se2_c = adjusted_variance(control, theta) / control.n
    se2_t = adjusted_variance(treatment, theta) / treatment.n
    raw_c = sample_variance(control.n, control.sum, control.sum_squares) / control.n
    raw_t = sample_variance(treatment.n, treatment.sum, treatment.sum_squares) / treatment.n
    raw = raw_c + raw_t
    reduction = 1.0 - (se2_c + se2_t) / raw if raw > 0 else 0.0
    df = welch_df(se2_t, se2_c, treatment.n, control.n)
    zero = se2_c == 0.0 and se2_t == 0.0
    estimate = DiffEstimate(
        mean_c, mean_c + adjusted_diff, se2_c, se2_t, control.n, treatment.n, df, zero, raw_mean_t=mean_t
    )
    return CupedEstimate(estimate, theta, reduction)
