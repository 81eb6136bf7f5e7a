"""Always-valid inference: normal-mixture confidence sequences (Howard et al. 2021).

As GrowthBook's gbstats sequential engine (eq. 9 of Waudby-Smith et al. 2023): with ``N`` the total
units of both arms, ``s2 = N x Var(estimate)`` and the mixing parameter
``rho = sqrt((-2 ln alpha + ln(-2 ln alpha + 1)) / N*)`` for the tuning parameter ``N*``,

    half-width = sqrt(s2) * sqrt(2 (N rho^2 + 1) ln(sqrt(N rho^2 + 1) / alpha) / (N rho)^2).

The always-valid p-value is the smallest alpha' whose sequence (rho held at the configured alpha)
excludes 0, in closed form ``min(1, sqrt(N rho^2 + 1) exp(-d^2 N rho^2 / (2 Var(d) (N rho^2 + 1))))``.
"""

from __future__ import annotations

import math

from experimently.stats.estimate import DiffEstimate
from experimently.stats.inference import Inference, clamp_probability, interval
from experimently.stats.model import Alternative


def mixing_rho(alpha: float, tuning: float) -> float:
    """rho for a tuning parameter ``N*`` (total units where the sequence is tightest)."""
    log_alpha = math.log(alpha)
    return math.sqrt((-2.0 * log_alpha + math.log(-2.0 * log_alpha + 1.0)) / tuning)


def halfwidth(s2: float, n: int, tuning: float, alpha: float) -> float:
    """Half-width of the two-sided confidence sequence; ``s2`` = N x variance of the estimate."""
    rho = mixing_rho(alpha, tuning)
    n_rho2 = n * rho * rho
    return math.sqrt(s2) * math.sqrt(
        2.0 * (n_rho2 + 1.0) * math.log(math.sqrt(n_rho2 + 1.0) / alpha) / (n * rho) ** 2
    )


def always_valid_p_value(
    diff: float, var_diff: float, n: int, *, alpha: float, tuning: float, alternative: Alternative
) -> float:
    """Smallest alpha' whose sequence excludes 0 (mixture fixed by the configured alpha), capped at 1.

    One-sided alternatives use the two-sided sequence's bound on the tested side, so an estimate on the
    other side gives 1.
    """
    if (alternative is Alternative.GREATER and diff <= 0) or (alternative is Alternative.LESS and diff >= 0):
        return 1.0
    if var_diff <= 0:
        return 0.0 if diff != 0 else 1.0
    rho2 = mixing_rho(alpha, tuning) ** 2
    n_rho2 = n * rho2
    exponent = -diff * diff * n * rho2 / (2.0 * var_diff * (n_rho2 + 1.0))
    return clamp_probability(math.sqrt(n_rho2 + 1.0) * math.exp(exponent))


def sequential_inference(
    est: DiffEstimate, *, alpha: float, alternative: Alternative, tuning: float
) -> Inference:
    """Confidence sequences (absolute, relative by the delta method) centred on the fixed-horizon estimate."""
    n = est.n_total
    absolute = interval(est.diff, halfwidth(est.var_diff * n, n, tuning, alpha), alternative)
    relative, var_rel = est.relative, est.var_relative
    relative_interval = None
    if relative is not None and var_rel is not None:
        relative_interval = interval(relative, halfwidth(var_rel * n, n, tuning, alpha), alternative)
    p_value = always_valid_p_value(
        est.diff, est.var_diff, n, alpha=alpha, tuning=tuning, alternative=alternative
    )
    return Inference(est.diff, absolute, relative, relative_interval, p_value=p_value)
