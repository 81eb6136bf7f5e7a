"""Fixed-horizon tests: Welch's t (means, counts, CUPED) and the two-proportion z-test (binomial).

Binomial p-values use the pooled rate; binomial intervals the unpooled Wald variance ``p(1-p)/n``.
Relative intervals use the delta method with the same quantile as the absolute interval.
"""

from __future__ import annotations

import math

from experimently.stats.estimate import DiffEstimate
from experimently.stats.inference import Inference, clamp_probability, interval, quantile
from experimently.stats.lazy import lazy
from experimently.stats.model import Alternative

special = lazy("scipy.special")


def p_value_from_statistic(statistic: float, alternative: Alternative, df: float | None) -> float:
    """p-value of a t (``df`` given) or z (``df`` None) statistic."""

    def cdf(x: float) -> float:
        return float(special.ndtr(x) if df is None else special.stdtr(df, x))

    if alternative is Alternative.GREATER:
        p = cdf(-statistic)
    elif alternative is Alternative.LESS:
        p = cdf(statistic)
    else:
        p = 2.0 * cdf(-abs(statistic))
    return clamp_probability(p)


def _statistic(diff: float, se: float) -> float:
    """diff / se with the limits of a zero standard error (a tie gives 0, a difference +-inf)."""
    if se > 0:
        return diff / se
    if diff == 0:
        return 0.0
    return math.copysign(math.inf, diff)


def pooled_standard_error(est: DiffEstimate) -> float:
    """Standard error of p_t - p_c under H0 (pooled rate), for the binomial z-test."""
    pooled = (est.mean_c * est.n_c + est.mean_t * est.n_t) / est.n_total
    return math.sqrt(max(pooled * (1.0 - pooled), 0.0) * (1.0 / est.n_c + 1.0 / est.n_t))


def frequentist_inference(
    est: DiffEstimate, *, alpha: float, alternative: Alternative, pooled_binomial: bool
) -> Inference:
    """p-value of H0 'equal means' and intervals for the absolute and relative difference."""
    se = math.sqrt(est.var_diff)
    p_se = pooled_standard_error(est) if pooled_binomial else se
    p_value = p_value_from_statistic(_statistic(est.diff, p_se), alternative, est.df)
    q = quantile(alpha, alternative, est.df)
    absolute = interval(est.diff, q * se, alternative)
    relative, var_rel = est.relative, est.var_relative
    relative_interval = None
    if relative is not None and var_rel is not None:
        relative_interval = interval(relative, q * math.sqrt(var_rel), alternative)
    return Inference(est.diff, absolute, relative, relative_interval, p_value=p_value)
