"""Power and sample size against statsmodels and the closed form."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from experimently.stats import Alternative, MessageCode, MetricKind, days_to_sample, mde, power, sample_size

MEAN_CASES = [
    # baseline, variance, relative mde, alpha, power
    (10.0, 25.0, 0.05, 0.05, 0.8),
    (100.0, 900.0, 0.02, 0.05, 0.9),
    (3.5, 4.0, 0.10, 0.01, 0.8),
    (50.0, 2500.0, 0.01, 0.10, 0.95),
]


@pytest.mark.parametrize(("baseline", "variance", "rel", "alpha", "target"), MEAN_CASES)
def test_sample_size_mean__closed_form_and_statsmodels(
    baseline: float, variance: float, rel: float, alpha: float, target: float
) -> None:
    result = sample_size(
        MetricKind.MEAN, baseline, rel, baseline_variance=variance, alpha=alpha, power=target
    )
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
    exact = 2 * variance * z**2 / (baseline * rel) ** 2
    assert result.units_per_arm is not None and result.units_per_arm == math.ceil(exact)
    assert result.total_units == 2 * result.units_per_arm
    effect = baseline * rel / math.sqrt(variance)
    sm = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=target, ratio=1.0)
    assert result.units_per_arm == pytest.approx(sm, rel=1e-3)
    t_based = TTestIndPower().solve_power(effect_size=effect, alpha=alpha, power=target, ratio=1.0)
    assert result.units_per_arm == pytest.approx(t_based, rel=0.02)


@pytest.mark.parametrize(("baseline", "rel"), [(0.10, 0.05), (0.02, 0.10), (0.5, -0.04), (0.9, 0.05)])
def test_sample_size_binomial__variance_under_alternative(baseline: float, rel: float) -> None:
    p2 = baseline * (1 + rel)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    exact = z**2 * (baseline * (1 - baseline) + p2 * (1 - p2)) / (p2 - baseline) ** 2
    result = sample_size(MetricKind.BINOMIAL, baseline, rel)
    assert result.units_per_arm == math.ceil(exact)


@pytest.mark.parametrize(
    ("baseline", "variance", "rel", "n", "alt"),
    [
        (10.0, 25.0, 0.05, 1000, "two-sided"),
        (10.0, 25.0, 0.02, 5000, "two-sided"),
        (10.0, 25.0, 0.05, 1000, "greater"),
        (1.0, 1.0, 0.1, 300, "two-sided"),
    ],
)
def test_power_mean__matches_normal_ind_power(
    baseline: float, variance: float, rel: float, n: int, alt: str
) -> None:
    effect = baseline * rel / math.sqrt(variance)
    sm_alt = {"two-sided": "two-sided", "greater": "larger"}[alt]
    ref = NormalIndPower().power(effect_size=effect, nobs1=n, alpha=0.05, ratio=1.0, alternative=sm_alt)
    result = power(
        MetricKind.MEAN, baseline, rel, n, baseline_variance=variance, alternative=Alternative(alt)
    )
    assert result.power == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    ("kind", "baseline", "variance"), [(MetricKind.MEAN, 10.0, 25.0), (MetricKind.BINOMIAL, 0.1, None)]
)
def test_mde__inverts_sample_size(kind: MetricKind, baseline: float, variance: float | None) -> None:
    n = sample_size(kind, baseline, 0.05, baseline_variance=variance).units_per_arm
    assert n is not None
    result = mde(kind, baseline, n, baseline_variance=variance)
    assert result.relative_mde is not None
    assert result.relative_mde == pytest.approx(0.05, rel=2e-3)
    assert result.relative_mde <= 0.05


def test_power__at_sample_size_reaches_target() -> None:
    n = sample_size(MetricKind.BINOMIAL, 0.1, 0.1, power=0.8).units_per_arm
    assert n is not None
    achieved = power(MetricKind.BINOMIAL, 0.1, 0.1, n).power
    assert achieved is not None and 0.8 <= achieved < 0.8005


@pytest.mark.parametrize(
    ("kind", "baseline", "variance", "code"),
    [
        (MetricKind.MEAN, 0.0, 1.0, MessageCode.INVALID_INPUT),
        (MetricKind.BINOMIAL, 0.0, None, MessageCode.INVALID_INPUT),
        (MetricKind.MEAN, 5.0, 0.0, MessageCode.ZERO_VARIANCE),
        (MetricKind.MEAN, 5.0, -1.0, MessageCode.INVALID_INPUT),
        (MetricKind.MEAN, 5.0, None, MessageCode.INVALID_INPUT),
    ],
)
def test_power_functions__degenerate_designs(
    kind: MetricKind, baseline: float, variance: float | None, code: MessageCode
) -> None:
    assert sample_size(kind, baseline, 0.05, baseline_variance=variance).messages == (code,)
    assert mde(kind, baseline, 1000, baseline_variance=variance).messages == (code,)
    assert power(kind, baseline, 0.05, 1000, baseline_variance=variance).messages == (code,)


def test_sample_size__alpha_outside_unit_interval_is_invalid() -> None:
    assert sample_size(MetricKind.MEAN, 1.0, 0.1, baseline_variance=1.0, alpha=1.5).messages == (
        MessageCode.INVALID_INPUT,
    )


def test_mde_binomial__unreachable_is_not_enough_data() -> None:
    assert mde(MetricKind.BINOMIAL, 0.9, 5).messages == (MessageCode.NOT_ENOUGH_DATA,)


def test_mde__variance_near_the_largest_double__numeric_range_not_a_silent_null() -> None:
    result = mde(MetricKind.MEAN, 1.0, 10, baseline_variance=1e308)
    assert (result.relative_mde, result.messages) == (None, (MessageCode.NUMERIC_RANGE,))
    assert mde(MetricKind.MEAN, 1e-306, 10, baseline_variance=1e10).messages == (MessageCode.NUMERIC_RANGE,)


@pytest.mark.parametrize(("required", "daily", "days"), [(10000, 1000, 10), (10001, 1000, 11), (0, 5, 0)])
def test_days_to_sample(required: int, daily: int, days: int) -> None:
    assert days_to_sample(required, daily).days == days


def test_days_to_sample__no_traffic_is_invalid() -> None:
    assert days_to_sample(100, 0).messages == (MessageCode.INVALID_INPUT,)
