"""Bayesian engine: posterior, chance to win and risk against numeric integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from experimently.stats import Prior, Verdict, analyze_metric

from .helpers import binomial_stats, stats_of


def _loss_numeric(mean: float, sd: float) -> tuple[float, float]:
    """E[max(0, -D)] and E[max(0, D)] for D ~ N(mean, sd^2) by quadrature."""
    pdf = stats.norm(mean, sd).pdf
    below = integrate.quad(lambda x: -x * pdf(x), -np.inf, 0, epsabs=1e-14, epsrel=1e-12)[0]
    above = integrate.quad(lambda x: x * pdf(x), 0, np.inf, epsabs=1e-14, epsrel=1e-12)[0]
    return below, above


CASES = [
    # n, conv_c, conv_t, lower_is_better
    (1000, 100, 110, False),
    (1000, 100, 90, False),
    (5000, 500, 560, False),
    (400, 200, 200, False),
    (1000, 100, 110, True),
    (3000, 900, 860, True),
]


@pytest.mark.parametrize(("n", "conv_c", "conv_t", "lower_is_better"), CASES)
def test_bayesian_flat_prior__risk_matches_quadrature(
    n: int, conv_c: int, conv_t: int, lower_is_better: bool
) -> None:
    variants = [binomial_stats("c", n, conv_c), binomial_stats("t", n, conv_t)]
    c = analyze_metric(
        "binomial", variants, control_key="c", engine="bayesian", lower_is_better=lower_is_better
    ).comparisons[0]
    pc, pt = conv_c / n, conv_t / n
    sd = math.sqrt(pc * (1 - pc) / n + pt * (1 - pt) / n)
    below, above = _loss_numeric(pt - pc, sd)
    assert c.risk is not None
    if lower_is_better:
        assert c.chance_to_win == pytest.approx(stats.norm.cdf(0, pt - pc, sd), rel=1e-6)
        assert c.risk.treatment == pytest.approx(above, rel=1e-6)
        assert c.risk.control == pytest.approx(below, rel=1e-6)
    else:
        assert c.chance_to_win == pytest.approx(stats.norm.sf(0, pt - pc, sd), rel=1e-6)
        assert c.risk.treatment == pytest.approx(below, rel=1e-6)
        assert c.risk.control == pytest.approx(above, rel=1e-6)
    assert c.absolute_interval is not None
    assert c.absolute_interval.lower == pytest.approx(stats.norm.ppf(0.025, pt - pc, sd), rel=1e-6)


@pytest.mark.parametrize(("prior_mean", "prior_var"), [(0.0, 0.01**2), (0.05, 0.02**2), (-0.1, 1.0)])
def test_bayesian_normal_prior__conjugate_posterior(prior_mean: float, prior_var: float) -> None:
    rng = np.random.default_rng(4)
    y_c, y_t = rng.normal(2.0, 1.0, 400), rng.normal(2.1, 1.0, 400)
    c = analyze_metric(
        "mean",
        [stats_of("c", y_c), stats_of("t", y_t)],
        control_key="c",
        engine="bayesian",
        prior=Prior(prior_mean, prior_var),
    ).comparisons[0]
    d = y_t.mean() - y_c.mean()
    v = y_t.var(ddof=1) / 400 + y_c.var(ddof=1) / 400
    post_var = 1 / (1 / v + 1 / prior_var)
    post_mean = post_var * (d / v + prior_mean / prior_var)
    assert c.absolute_lift == pytest.approx(post_mean, rel=1e-6)
    assert c.chance_to_win == pytest.approx(stats.norm.sf(0, post_mean, math.sqrt(post_var)), rel=1e-6)
    below, above = _loss_numeric(post_mean, math.sqrt(post_var))
    assert c.risk is not None
    assert c.risk.treatment == pytest.approx(below, rel=1e-6, abs=1e-15)
    assert c.risk.control == pytest.approx(above, rel=1e-6, abs=1e-15)
    # prior carried to the relative scale by dividing by the control mean
    mc, mt = y_c.mean(), y_t.mean()
    v_rel = y_t.var(ddof=1) / 400 / mc**2 + mt**2 * y_c.var(ddof=1) / 400 / mc**4
    pv_rel = prior_var / mc**2
    post_var_rel = 1 / (1 / v_rel + 1 / pv_rel)
    post_rel = post_var_rel * ((mt / mc - 1) / v_rel + prior_mean / mc / pv_rel)
    assert c.relative_lift == pytest.approx(post_rel, rel=1e-6)
    assert c.relative_interval is not None
    assert c.relative_interval.upper == pytest.approx(
        post_rel + 1.959963984540054 * math.sqrt(post_var_rel), rel=1e-6
    )


def test_bayesian_risk__never_negative_for_extreme_effects() -> None:
    variants = [binomial_stats("c", 100000, 10000), binomial_stats("t", 100000, 20000)]
    c = analyze_metric("binomial", variants, control_key="c", engine="bayesian").comparisons[0]
    assert c.risk is not None and c.risk.treatment >= 0.0 and c.risk.control >= 0.0
    assert c.chance_to_win == 1.0 and c.verdict is Verdict.WINNER


@pytest.mark.parametrize(
    ("conv_t", "win", "lose", "expected"),
    [
        (112, 0.95, 0.05, Verdict.INCONCLUSIVE),
        (112, 0.80, 0.05, Verdict.WINNER),
        (75, 0.95, 0.05, Verdict.LOSER),
    ],
)
def test_bayesian_verdict__thresholds_are_parameters(
    conv_t: int, win: float, lose: float, expected: Verdict
) -> None:
    variants = [binomial_stats("c", 1000, 100), binomial_stats("t", 1000, conv_t)]
    c = analyze_metric(
        "binomial", variants, control_key="c", engine="bayesian", win_threshold=win, lose_threshold=lose
    ).comparisons[0]
    assert c.verdict is expected
