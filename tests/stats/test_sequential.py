"""Sequential engine against a direct evaluation of Howard et al.'s two-sided normal-mixture boundary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from experimently.stats import Engine, analyze_metric

from .helpers import binomial_stats, stats_of


def howard_halfwidth(
    var_diff: float, n: int, alpha: float, tuning: float, rho_alpha: float | None = None
) -> float:
    """Two-sided normal mixture (Howard et al. 2021): boundary on the sum S_N with intrinsic time V = N s2,
    sqrt((V + r) ln((V + r) / (r alpha^2))), r = s2 / rho^2, divided by N for the mean."""
    a = alpha if rho_alpha is None else rho_alpha
    rho2 = (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning
    s2 = var_diff * n
    v, r = n * s2, s2 / rho2
    return math.sqrt((v + r) * math.log((v + r) / (r * alpha**2))) / n


CASES = [
    # seed, n_c, n_t, effect, alpha, tuning
    (1, 1000, 1000, 0.0, 0.05, 5000),
    (2, 2500, 2500, 0.1, 0.05, 5000),
    (3, 300, 500, 0.3, 0.10, 5000),
    (4, 5000, 5000, 0.05, 0.01, 5000),
    (5, 800, 700, -0.2, 0.05, 1000),
    (6, 4000, 4100, 0.08, 0.05, 20000),
    (7, 150, 150, 0.5, 0.2, 5000),
    (8, 10000, 10000, 0.02, 0.05, 5000),
]


@pytest.mark.parametrize(("seed", "n_c", "n_t", "effect", "alpha", "tuning"), CASES)
def test_sequential_interval__matches_published_boundary(
    seed: int, n_c: int, n_t: int, effect: float, alpha: float, tuning: int
) -> None:
    rng = np.random.default_rng(seed)
    y_c, y_t = rng.normal(1.0, 1.0, n_c), rng.normal(1.0 + effect, 1.0, n_t)
    c = analyze_metric(
        "mean",
        [stats_of("c", y_c), stats_of("t", y_t)],
        control_key="c",
        engine=Engine.SEQUENTIAL,
        alpha=alpha,
        sequential_tuning=tuning,
    ).comparisons[0]
    diff = y_t.mean() - y_c.mean()
    var_diff = y_t.var(ddof=1) / n_t + y_c.var(ddof=1) / n_c
    hw = howard_halfwidth(var_diff, n_c + n_t, alpha, tuning)
    assert c.absolute_interval is not None
    assert c.absolute_interval.lower == pytest.approx(diff - hw, rel=1e-6)
    assert c.absolute_interval.upper == pytest.approx(diff + hw, rel=1e-6)

    # always-valid p-value: the alpha' at which the boundary (mixture fixed at alpha) touches |diff|
    def gap(a: float) -> float:
        return float(howard_halfwidth(var_diff, n_c + n_t, a, tuning, rho_alpha=alpha) - abs(diff))

    # hw decreases in alpha': no crossing below 1 -> p = 1, otherwise the root
    expected = 1.0 if gap(1.0) >= 0 else optimize.brentq(gap, 1e-150, 1.0, xtol=1e-300, rtol=1e-12)
    assert c.p_value == pytest.approx(min(expected, 1.0), rel=1e-6, abs=1e-300)
    assert c.p_value is not None and c.absolute_interval is not None
    lower, upper = c.absolute_interval.lower, c.absolute_interval.upper
    assert lower is not None and upper is not None
    assert (c.p_value < alpha) == (lower > 0 or upper < 0)


@pytest.mark.parametrize(("n", "conv_c", "conv_t"), [(3000, 300, 360), (2000, 1000, 1010)])
def test_sequential_binomial__unpooled_variance(n: int, conv_c: int, conv_t: int) -> None:
    c = analyze_metric(
        "binomial",
        [binomial_stats("c", n, conv_c), binomial_stats("t", n, conv_t)],
        control_key="c",
        engine="sequential",
    ).comparisons[0]
    pc, pt = conv_c / n, conv_t / n
    var_diff = pc * (1 - pc) / n + pt * (1 - pt) / n
    hw = howard_halfwidth(var_diff, 2 * n, 0.05, 5000)
    assert c.absolute_interval is not None
    assert c.absolute_interval.upper == pytest.approx(pt - pc + hw, rel=1e-6)
    var_rel = pt * (1 - pt) / n / pc**2 + pt**2 * pc * (1 - pc) / n / pc**4
    assert c.relative_interval is not None
    assert c.relative_interval.lower == pytest.approx(
        pt / pc - 1 - howard_halfwidth(var_rel, 2 * n, 0.05, 5000), rel=1e-6
    )


def test_sequential__wider_than_fixed_horizon_interval() -> None:
    variants = [binomial_stats("c", 5000, 500), binomial_stats("t", 5000, 560)]
    fixed = analyze_metric("binomial", variants, control_key="c").comparisons[0]
    seq = analyze_metric("binomial", variants, control_key="c", engine="sequential").comparisons[0]
    assert fixed.absolute_interval is not None and seq.absolute_interval is not None
    assert seq.absolute_interval.lower is not None and fixed.absolute_interval.lower is not None
    assert seq.absolute_interval.lower < fixed.absolute_interval.lower
    assert seq.p_value is not None and fixed.p_value is not None and seq.p_value > fixed.p_value


def test_sequential_one_sided__wrong_direction_p_is_one() -> None:
    variants = [binomial_stats("c", 5000, 600), binomial_stats("t", 5000, 500)]
    c = analyze_metric("binomial", variants, control_key="c", engine="sequential", alternative="greater")
    comparison = c.comparisons[0]
    assert comparison.p_value == 1.0
    assert comparison.absolute_interval is not None and comparison.absolute_interval.upper is None
