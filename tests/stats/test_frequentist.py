"""Fixed-horizon engine against scipy / statsmodels on generated raw data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from experimently.stats import Alternative, Engine, MetricKind, Verdict, analyze_metric

from .helpers import binomial_stats, stats_of

WELCH_CASES = [
    # seed, n_c, n_t, mean_t, sd_c, sd_t, alternative, alpha
    (1, 50, 50, 0.0, 1.0, 1.0, "two-sided", 0.05),
    (2, 30, 80, 0.3, 1.0, 2.0, "two-sided", 0.05),
    (3, 200, 150, 0.1, 3.0, 1.0, "two-sided", 0.10),
    (4, 1000, 1000, 0.05, 1.0, 1.0, "two-sided", 0.01),
    (5, 12, 9, 1.0, 0.5, 2.5, "two-sided", 0.05),
    (6, 500, 400, -0.2, 2.0, 2.0, "two-sided", 0.05),
    (7, 40, 60, 0.4, 1.0, 1.5, "greater", 0.05),
    (8, 40, 60, -0.4, 1.0, 1.5, "greater", 0.05),
    (9, 70, 30, -0.3, 1.2, 0.8, "less", 0.05),
    (10, 70, 30, 0.3, 1.2, 0.8, "less", 0.10),
    (11, 2, 2, 0.5, 1.0, 1.0, "two-sided", 0.05),
    (12, 3, 25, 2.0, 4.0, 0.1, "two-sided", 0.2),
    (13, 5000, 5000, 0.02, 1.0, 1.0, "two-sided", 0.05),
    (14, 100, 100, 5.0, 10.0, 10.0, "greater", 0.01),
    (15, 25, 250, 0.0, 1.0, 0.3, "less", 0.05),
    (16, 60, 61, 0.7, 0.2, 0.2, "two-sided", 0.05),
]


def _arrays(
    seed: int, n_c: int, n_t: int, mean_t: float, sd_c: float, sd_t: float
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    control = rng.normal(10.0, sd_c, n_c)
    treatment = rng.normal(10.0 + mean_t, sd_t, n_t)
    return control, treatment


@pytest.mark.parametrize(
    ("seed", "n_c", "n_t", "mean_t", "sd_c", "sd_t", "alternative", "alpha"), WELCH_CASES
)
def test_welch__matches_scipy_ttest_ind(
    seed: int, n_c: int, n_t: int, mean_t: float, sd_c: float, sd_t: float, alternative: str, alpha: float
) -> None:
    # Given raw arrays and their sufficient statistics
    control, treatment = _arrays(seed, n_c, n_t, mean_t, sd_c, sd_t)
    variants = [stats_of("c", control), stats_of("t", treatment)]
    # When
    result = analyze_metric(
        MetricKind.MEAN, variants, control_key="c", alpha=alpha, alternative=alternative
    ).comparisons[0]
    # Then p-value, df and interval agree with scipy on the raw arrays
    ref = stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert result.degrees_of_freedom == pytest.approx(ref.df, rel=1e-6)
    ci = ref.confidence_interval(1 - alpha)
    assert result.absolute_lift == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    interval = result.absolute_interval
    assert interval is not None
    if math.isfinite(ci.low):
        assert interval.lower == pytest.approx(ci.low, rel=1e-6)
    else:
        assert interval.lower is None
    if math.isfinite(ci.high):
        assert interval.upper == pytest.approx(ci.high, rel=1e-6)
    else:
        assert interval.upper is None


@pytest.mark.parametrize("seed", [21, 22, 23, 24])
def test_welch_relative_interval__delta_method_with_welch_t(seed: int) -> None:
    control, treatment = _arrays(seed, 80, 120, 0.5, 1.0, 2.0)
    result = analyze_metric("count", [stats_of("c", control), stats_of("t", treatment)], control_key="c")
    c = result.comparisons[0]
    mc, mt = control.mean(), treatment.mean()
    se2c, se2t = control.var(ddof=1) / control.size, treatment.var(ddof=1) / treatment.size
    df = (se2c + se2t) ** 2 / (se2c**2 / (control.size - 1) + se2t**2 / (treatment.size - 1))
    se_rel = math.sqrt(se2t / mc**2 + mt**2 * se2c / mc**4)
    q = stats.t.ppf(0.975, df)
    assert c.relative_lift == pytest.approx(mt / mc - 1, rel=1e-9)
    assert c.relative_interval is not None
    assert c.relative_interval.lower == pytest.approx(mt / mc - 1 - q * se_rel, rel=1e-6)
    assert c.relative_interval.upper == pytest.approx(mt / mc - 1 + q * se_rel, rel=1e-6)


BINOMIAL_CASES = [
    # n_c, conv_c, n_t, conv_t, alternative, alpha
    (1000, 100, 1000, 120, "two-sided", 0.05),
    (5000, 250, 5100, 300, "two-sided", 0.05),
    (200, 30, 180, 20, "two-sided", 0.10),
    (10000, 1200, 10000, 1290, "greater", 0.05),
    (10000, 1200, 10000, 1150, "greater", 0.05),
    (800, 400, 820, 380, "less", 0.05),
    (50, 1, 50, 6, "two-sided", 0.01),
    (30000, 27000, 30000, 27150, "two-sided", 0.05),
    (120, 0, 130, 5, "two-sided", 0.05),
    (300, 299, 300, 300, "two-sided", 0.05),
    (2500, 600, 2400, 640, "less", 0.2),
    (70, 35, 90, 50, "two-sided", 0.05),
]

SM_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize(("n_c", "conv_c", "n_t", "conv_t", "alternative", "alpha"), BINOMIAL_CASES)
def test_binomial__matches_statsmodels(
    n_c: int, conv_c: int, n_t: int, conv_t: int, alternative: str, alpha: float
) -> None:
    variants = [binomial_stats("c", n_c, conv_c), binomial_stats("t", n_t, conv_t)]
    c = analyze_metric(
        "binomial", variants, control_key="c", alpha=alpha, alternative=alternative
    ).comparisons[0]
    _, p_ref = proportions_ztest([conv_t, conv_c], [n_t, n_c], alternative=SM_ALTERNATIVE[alternative])
    assert c.p_value == pytest.approx(p_ref, rel=1e-6, abs=1e-300)
    two_sided_alpha = alpha if alternative == "two-sided" else 2 * alpha
    low, high = confint_proportions_2indep(
        conv_t, n_t, conv_c, n_c, method="wald", compare="diff", alpha=two_sided_alpha
    )
    assert c.absolute_interval is not None
    if alternative != "less":
        assert c.absolute_interval.lower == pytest.approx(low, rel=1e-6, abs=1e-12)
    if alternative != "greater":
        assert c.absolute_interval.upper == pytest.approx(high, rel=1e-6, abs=1e-12)
    assert c.degrees_of_freedom is None


@pytest.mark.parametrize(("n_c", "conv_c", "n_t", "conv_t"), [(1000, 100, 1000, 120), (400, 37, 500, 41)])
def test_binomial_relative_interval__delta_method_with_z(
    n_c: int, conv_c: int, n_t: int, conv_t: int
) -> None:
    variants = [binomial_stats("c", n_c, conv_c), binomial_stats("t", n_t, conv_t)]
    c = analyze_metric("binomial", variants, control_key="c").comparisons[0]
    pc, pt = conv_c / n_c, conv_t / n_t
    se_rel = math.sqrt(pt * (1 - pt) / n_t / pc**2 + pt**2 * pc * (1 - pc) / n_c / pc**4)
    z = stats.norm.ppf(0.975)
    assert c.relative_interval is not None
    assert c.relative_interval.lower == pytest.approx(pt / pc - 1 - z * se_rel, rel=1e-6)
    assert c.relative_interval.upper == pytest.approx(pt / pc - 1 + z * se_rel, rel=1e-6)


def test_binomial__zero_against_hundred_percent__real_tiny_p_value() -> None:
    variants = [binomial_stats("c", 50, 0), binomial_stats("t", 50, 50)]
    c = analyze_metric("binomial", variants, control_key="c").comparisons[0]
    _, p_ref = proportions_ztest([50, 0], [50, 50])
    assert c.p_value == pytest.approx(p_ref, rel=1e-6)
    assert c.p_value is not None and c.p_value < 1e-20
    assert c.absolute_interval is not None and c.absolute_interval.lower == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_one_arm_zero_variance__welch_still_reported() -> None:
    control = np.full(20, 3.0)
    treatment = np.random.default_rng(5).normal(3.5, 1.0, 25)
    c = analyze_metric(
        "mean", [stats_of("c", control), stats_of("t", treatment)], control_key="c"
    ).comparisons[0]
    ref = stats.ttest_ind(treatment, control, equal_var=False)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert c.degrees_of_freedom == pytest.approx(treatment.size - 1, rel=1e-9)


@pytest.mark.parametrize(
    ("shift", "lower_is_better", "expected"),
    [
        (0.5, False, Verdict.WINNER),
        (-0.5, False, Verdict.LOSER),
        (0.5, True, Verdict.LOSER),
        (-0.5, True, Verdict.WINNER),
        (0.0, False, Verdict.INCONCLUSIVE),
    ],
)
def test_verdict__direction_and_lower_is_better(
    shift: float, lower_is_better: bool, expected: Verdict
) -> None:
    rng = np.random.default_rng(3)
    control = rng.normal(10, 1, 2000)
    treatment = control[::-1] + shift  # same spread, exact shift
    c = analyze_metric(
        "mean",
        [stats_of("c", control), stats_of("t", treatment)],
        control_key="c",
        engine=Engine.FREQUENTIST,
        lower_is_better=lower_is_better,
    ).comparisons[0]
    assert c.verdict is expected


def test_one_sided_greater__wrong_direction_is_inconclusive_not_loser() -> None:
    variants = [binomial_stats("c", 10000, 1300), binomial_stats("t", 10000, 1100)]
    c = analyze_metric("binomial", variants, control_key="c", alternative=Alternative.GREATER).comparisons[0]
    assert c.p_value is not None and c.p_value > 0.99
    assert c.verdict is Verdict.INCONCLUSIVE
    assert c.absolute_interval is not None and c.absolute_interval.upper is None
