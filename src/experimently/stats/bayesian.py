"""Bayesian engine: Gaussian posterior on the absolute difference.

Flat prior by default (the posterior is ``N(d, Var(d))``); an optional Normal prior on the absolute effect
combines by precision. Chance to win = P(difference > 0) (P(< 0) when lower is better). Risk is the
expected loss in metric units: ``E[max(0, -D)]`` for shipping treatment and ``E[max(0, D)]`` for keeping
control (tails swap when lower is better). Credible intervals are equal-tailed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from experimently.stats.estimate import DiffEstimate
from experimently.stats.inference import Inference, clamp_probability, interval, quantile
from experimently.stats.lazy import lazy
from experimently.stats.model import Alternative, Prior, Risk

special = lazy("scipy.special")


@dataclass(frozen=True, slots=True)
class Normal:
    mean: float
    variance: float


def posterior(mean: float, variance: float, prior: Normal | None) -> Normal:
    """Normal-normal update of a Gaussian likelihood ``N(mean, variance)``; flat prior when None."""
    if prior is None or variance == 0.0:
        return Normal(mean, variance)
    precision = 1.0 / variance + 1.0 / prior.variance
    post_var = 1.0 / precision
    return Normal(post_var * (mean / variance + prior.mean / prior.variance), post_var)


def expected_losses(d: Normal) -> tuple[float, float]:
    """``(E[max(0, -D)], E[max(0, D)])`` for D ~ N(mean, variance), closed form, never negative."""
    if d.variance <= 0.0:
        return max(-d.mean, 0.0), max(d.mean, 0.0)
    sigma = math.sqrt(d.variance)
    z = d.mean / sigma
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    below = sigma * density - d.mean * float(special.ndtr(-z))
    above = sigma * density + d.mean * float(special.ndtr(z))
    return max(below, 0.0), max(above, 0.0)


def probability_positive(d: Normal) -> float:
    if d.variance <= 0.0:
        return 1.0 if d.mean > 0 else (0.0 if d.mean < 0 else 0.5)
    return clamp_probability(float(special.ndtr(d.mean / math.sqrt(d.variance))))


def bayesian_inference(
    est: DiffEstimate, *, alpha: float, lower_is_better: bool, prior: Prior | None
) -> Inference:
    """Posterior mean, equal-tailed (1 - alpha) credible intervals, chance to win and risk."""
    prior_abs = Normal(prior.mean, prior.variance) if prior is not None else None
    post = posterior(est.diff, est.var_diff, prior_abs)
    q = quantile(alpha, Alternative.TWO_SIDED, None)
    absolute = interval(post.mean, q * math.sqrt(post.variance), Alternative.TWO_SIDED)
    relative_lift = relative_interval = None
    relative, var_rel = est.relative, est.var_relative
    if relative is not None and var_rel is not None:
        mc = est.mean_c
        prior_rel = None if prior is None else Normal(prior.mean / mc, prior.variance / (mc * mc))
        post_rel = posterior(relative, var_rel, prior_rel)
        relative_lift = post_rel.mean
        relative_interval = interval(post_rel.mean, q * math.sqrt(post_rel.variance), Alternative.TWO_SIDED)
    p_positive = probability_positive(post)
    loss_if_negative, loss_if_positive = expected_losses(post)
    if lower_is_better:
        chance = 1.0 - p_positive
        risk = Risk(treatment=loss_if_positive, control=loss_if_negative)
    else:
        chance = p_positive
        risk = Risk(treatment=loss_if_negative, control=loss_if_positive)
    return Inference(
        post.mean,
        absolute,
        relative_lift,
        relative_interval,
        chance_to_win=chance,
        risk=risk,
        posterior_sd=math.sqrt(post.variance),
    )
