"""Ratio metrics (delta method) against a direct computation on raw per-unit arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experimently.stats import MessageCode, analyze_metric, winsorize_values
from experimently.stats.model import VariantStats

from .helpers import stats_of


def _arm(rng: np.random.Generator, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    sessions = rng.poisson(4, n).astype(float) + 1
    revenue = rng.gamma(2.0, rate, n) * sessions
    return revenue, sessions


def _ratio_se2(y: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """Ratio of means and the variance of it: Var(ybar - R dbar) / dbar^2 from the linearised values."""
    ratio = y.mean() / d.mean()
    linear = (y - ratio * d) / d.mean()
    return ratio, linear.var(ddof=1) / y.size


@pytest.mark.parametrize(
    ("seed", "n_c", "n_t", "rate_t"), [(1, 500, 500, 1.0), (2, 200, 300, 1.2), (3, 50, 60, 0.9)]
)
def test_ratio__delta_method_matches_direct_linearisation(
    seed: int, n_c: int, n_t: int, rate_t: float
) -> None:
    rng = np.random.default_rng(seed)
    y_c, d_c = _arm(rng, n_c, 1.0)
    y_t, d_t = _arm(rng, n_t, rate_t)
    c = analyze_metric("ratio", [stats_of("c", y_c, d=d_c), stats_of("t", y_t, d=d_t)], control_key="c")
    comparison = c.comparisons[0]
    r_c, se2_c = _ratio_se2(y_c, d_c)
    r_t, se2_t = _ratio_se2(y_t, d_t)
    se = math.sqrt(se2_c + se2_t)
    assert comparison.control.mean == pytest.approx(r_c, rel=1e-9)
    assert comparison.absolute_lift == pytest.approx(r_t - r_c, rel=1e-9)
    assert comparison.p_value == pytest.approx(2 * stats.norm.sf(abs(r_t - r_c) / se), rel=1e-6)
    assert comparison.absolute_interval is not None
    assert comparison.absolute_interval.lower == pytest.approx(
        r_t - r_c - stats.norm.ppf(0.975) * se, rel=1e-6
    )
    se_rel = math.sqrt(se2_t / r_c**2 + r_t**2 * se2_c / r_c**4)
    assert comparison.relative_interval is not None
    assert comparison.relative_interval.upper == pytest.approx(
        r_t / r_c - 1 + 1.959963984540054 * se_rel, rel=1e-6
    )


def test_ratio__zero_denominator_is_not_enough_data() -> None:
    y = np.array([1.0, 2.0, 3.0])
    variants = [stats_of("c", y, d=np.zeros(3)), stats_of("t", y, d=np.ones(3))]
    c = analyze_metric("ratio", variants, control_key="c").comparisons[0]
    assert c.messages == (MessageCode.NOT_ENOUGH_DATA,)


def test_ratio__missing_denominator_is_invalid_input() -> None:
    y = np.array([1.0, 2.0, 3.0])
    c = analyze_metric("ratio", [stats_of("c", y), stats_of("t", y)], control_key="c").comparisons[0]
    assert c.messages == (MessageCode.INVALID_INPUT,)


@pytest.mark.parametrize(
    ("values", "cap", "floor", "expected"),
    [
        ([1.0, 5.0, 100.0], 10.0, None, (1.0, 5.0, 10.0)),
        ([-50.0, 0.0, 50.0], 20.0, -20.0, (-20.0, 0.0, 20.0)),
        ([], 1.0, None, ()),
    ],
)
def test_winsorize_values__caps_per_unit_values(
    values: list[float], cap: float, floor: float | None, expected: tuple[float, ...]
) -> None:
    assert winsorize_values(values, cap, floor) == expected


@pytest.mark.parametrize("engine", ["frequentist", "sequential", "bayesian"])
def test_ratio__a_variant_with_no_units_yet__not_enough_data_not_invalid(engine: str) -> None:
    """The results of an experiment with no data yet said a ratio metric's statistics were
    "inconsistent" (INVALID_INPUT): a variant with no units has no denominator sums at all."""
    empty = [VariantStats("control", 0, 0.0, 0.0), VariantStats("treatment", 0, 0.0, 0.0)]
    result = analyze_metric("ratio", empty, control_key="control", engine=engine)
    assert [c.messages for c in result.comparisons] == [(MessageCode.NOT_ENOUGH_DATA,)]
    # a variant with units but no denominator sums is still impossible input
    broken = [VariantStats("control", 5, 1.0, 1.0), VariantStats("treatment", 0, 0.0, 0.0)]
    result = analyze_metric("ratio", broken, control_key="control", engine=engine)
    assert [c.messages for c in result.comparisons] == [(MessageCode.INVALID_INPUT,)]
