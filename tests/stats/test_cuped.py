"""CUPED against a direct computation on the raw arrays (adjusted values + scipy Welch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experimently.stats import MessageCode, MetricKind, analyze_metric

from .helpers import stats_of


def _data(
    seed: int, n_c: int, n_t: int, rho: float, effect: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x_c, x_t = rng.normal(5, 2, n_c), rng.normal(5, 2, n_t)
    y_c = 10 + rho * (x_c - 5) + rng.normal(0, 2 * math.sqrt(1 - rho**2), n_c)
    y_t = 10 + effect + rho * (x_t - 5) + rng.normal(0, 2 * math.sqrt(1 - rho**2), n_t)
    return x_c, y_c, x_t, y_t


CASES = [
    (1, 200, 200, 0.8, 0.3),
    (2, 150, 300, 0.5, 0.0),
    (3, 1000, 900, 0.9, -0.2),
    (4, 60, 40, 0.3, 1.0),
    (5, 500, 500, 0.0, 0.1),
    (6, 30, 35, 0.95, 0.5),
]


@pytest.mark.parametrize(("seed", "n_c", "n_t", "rho", "effect"), CASES)
def test_cuped__matches_direct_computation_on_raw_arrays(
    seed: int, n_c: int, n_t: int, rho: float, effect: float
) -> None:
    # Given
    x_c, y_c, x_t, y_t = _data(seed, n_c, n_t, rho, effect)
    x_all, y_all = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    theta = np.cov(x_all, y_all, ddof=1)[0, 1] / np.var(x_all, ddof=1)
    adj_c, adj_t = y_c - theta * (x_c - x_all.mean()), y_t - theta * (x_t - x_all.mean())
    ref = stats.ttest_ind(adj_t, adj_c, equal_var=False)
    # When
    c = analyze_metric(
        MetricKind.MEAN, [stats_of("c", y_c, x_c), stats_of("t", y_t, x_t)], control_key="c", cuped=True
    ).comparisons[0]
    # Then
    assert c.cuped_theta == pytest.approx(theta, rel=1e-6)
    assert c.absolute_lift == pytest.approx(adj_t.mean() - adj_c.mean(), rel=1e-6, abs=1e-12)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert c.degrees_of_freedom == pytest.approx(ref.df, rel=1e-6)
    ci = ref.confidence_interval(0.95)
    assert c.absolute_interval is not None
    assert c.absolute_interval.lower == pytest.approx(ci.low, rel=1e-6)
    var_adj = adj_t.var(ddof=1) / n_t + adj_c.var(ddof=1) / n_c
    var_raw = y_t.var(ddof=1) / n_t + y_c.var(ddof=1) / n_c
    assert c.cuped_variance_reduction == pytest.approx(1 - var_adj / var_raw, rel=1e-6, abs=1e-9)
    # relative = adjusted diff / unadjusted control mean, delta method with the raw treatment mean and
    # the adjusted variances (the conventions: keep the means, replace only the variances)
    mc, mt = y_c.mean(), y_t.mean()
    se_rel = math.sqrt(adj_t.var(ddof=1) / n_t / mc**2 + mt**2 * adj_c.var(ddof=1) / n_c / mc**4)
    assert c.relative_lift == pytest.approx(c.absolute_lift / mc, rel=1e-6)
    assert c.relative_interval is not None
    q = stats.t.ppf(0.975, ref.df)
    assert c.relative_interval.upper == pytest.approx(c.relative_lift + q * se_rel, rel=1e-6)


def test_cuped_theta__equals_pooled_ols_slope() -> None:
    x_c, y_c, x_t, y_t = _data(9, 300, 300, 0.7, 0.0)
    slope = np.polyfit(np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t]), 1)[0]
    c = analyze_metric(
        "mean", [stats_of("c", y_c, x_c), stats_of("t", y_t, x_t)], control_key="c", cuped=True
    )
    assert c.comparisons[0].cuped_theta == pytest.approx(slope, rel=1e-6)


def test_cuped_no_preperiod__unadjusted_result_with_message() -> None:
    _x_c, y_c, _x_t, y_t = _data(10, 100, 100, 0.7, 0.2)
    plain = analyze_metric("mean", [stats_of("c", y_c), stats_of("t", y_t)], control_key="c").comparisons[0]
    c = analyze_metric(
        "mean", [stats_of("c", y_c), stats_of("t", y_t)], control_key="c", cuped=True
    ).comparisons[0]
    assert c.messages == (MessageCode.CUPED_NO_PREPERIOD,)
    assert c.cuped_theta == 0.0 and c.cuped_variance_reduction == 0.0
    assert c.p_value == plain.p_value and c.absolute_interval == plain.absolute_interval


def test_cuped_constant_preperiod__counts_as_no_preperiod() -> None:
    _, y_c, _, y_t = _data(11, 100, 100, 0.7, 0.2)
    variants = [stats_of("c", y_c, np.ones(100)), stats_of("t", y_t, np.ones(100))]
    c = analyze_metric("mean", variants, control_key="c", cuped=True).comparisons[0]
    assert MessageCode.CUPED_NO_PREPERIOD in c.messages


def test_cuped_on_ratio__not_supported_message_and_unadjusted() -> None:
    rng = np.random.default_rng(1)
    y, d = rng.poisson(3, 50).astype(float), rng.poisson(5, 50).astype(float) + 1
    variants = [stats_of("c", y, y, d), stats_of("t", y + 1, y, d)]
    c = analyze_metric("ratio", variants, control_key="c", cuped=True).comparisons[0]
    assert MessageCode.CUPED_NOT_SUPPORTED in c.messages
    assert c.cuped_theta is None and c.p_value is not None
