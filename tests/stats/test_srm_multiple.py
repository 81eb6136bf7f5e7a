"""SRM against scipy.stats.chisquare; corrections against statsmodels.multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from experimently.stats import Correction, MessageCode, adjust_p_values, srm_check

SRM_CASES = [
    ({"a": 5000, "b": 5000}, {"a": 50, "b": 50}),
    ({"a": 5000, "b": 5200}, {"a": 1, "b": 1}),
    ({"a": 10000, "b": 10500}, {"a": 0.5, "b": 0.5}),
    ({"a": 3000, "b": 1000, "c": 1010}, {"a": 60, "b": 20, "c": 20}),
    ({"a": 100, "b": 130, "c": 90, "d": 120}, {"a": 1, "b": 1, "c": 1, "d": 1}),
    ({"a": 9000, "b": 1100}, {"a": 90, "b": 10}),
    ({"a": 1, "b": 0}, {"a": 1, "b": 1}),
]


@pytest.mark.parametrize(("units", "weights"), SRM_CASES)
def test_srm__matches_scipy_chisquare(units: dict[str, int], weights: dict[str, float]) -> None:
    keys = list(weights)
    observed = np.array([units[k] for k in keys], dtype=float)
    w = np.array([weights[k] for k in keys], dtype=float)
    ref = stats.chisquare(observed, observed.sum() * w / w.sum())
    result = srm_check(units, weights)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert result.chi_square == pytest.approx(ref.statistic, rel=1e-6, abs=1e-12)
    assert result.degrees_of_freedom == len(keys) - 1
    assert result.flagged == (ref.pvalue < 0.001)


def test_srm__weight_zero_variant_without_units_left_out() -> None:
    result = srm_check({"a": 5000, "b": 5100, "c": 0}, {"a": 1, "b": 1, "c": 0})
    assert result.degrees_of_freedom == 1
    assert result.p_value == pytest.approx(stats.chisquare([5000, 5100]).pvalue, rel=1e-6)


def test_srm__units_in_weight_zero_variant_flagged_with_p_zero() -> None:
    result = srm_check({"a": 5000, "b": 5000, "c": 3}, {"a": 1, "b": 1, "c": 0})
    assert result.flagged and result.p_value == 0.0


@pytest.mark.parametrize(
    ("units", "weights"),
    [({"a": 10}, {"a": 1}), ({"a": 0, "b": 0}, {"a": 1, "b": 1}), ({"a": 10, "b": 0}, {"a": 1, "b": 0})],
)
def test_srm__not_applicable(units: dict[str, int], weights: dict[str, float]) -> None:
    result = srm_check(units, weights)
    assert result.messages == (MessageCode.SRM_NOT_APPLICABLE,)
    assert result.p_value is None and not result.flagged


@pytest.mark.parametrize(
    ("units", "weights"),
    [
        ({"a": -1, "b": 5}, {"a": 1, "b": 1}),
        ({"a": 1, "b": 5}, {"a": 1, "b": -1}),
        ({"a": 1, "x": 5}, {"a": 1, "b": 1}),
    ],
)
def test_srm__invalid_input(units: dict[str, int], weights: dict[str, float]) -> None:
    assert srm_check(units, weights).messages == (MessageCode.INVALID_INPUT,)


P_FAMILIES = [
    [0.01, 0.04, 0.03, 0.20],
    [0.001, 0.5, 0.049, 0.0101, 0.9, 0.02],
    [0.05],
    [1.0, 1.0, 0.0],
    list(np.random.default_rng(1).uniform(0, 0.1, 12)),
    list(np.random.default_rng(2).uniform(0, 1, 30)),
    [0.02, 0.02, 0.02, 0.5],
]


@pytest.mark.parametrize("p_values", P_FAMILIES)
@pytest.mark.parametrize(
    ("method", "sm_method"), [(Correction.HOLM, "holm"), (Correction.BENJAMINI_HOCHBERG, "fdr_bh")]
)
def test_corrections__match_statsmodels(p_values: list[float], method: Correction, sm_method: str) -> None:
    ref = multipletests(p_values, method=sm_method)[1]
    result = adjust_p_values(p_values, method)
    assert result.adjusted == pytest.approx(list(ref), rel=1e-9, abs=1e-15)
    assert result.intervals_adjusted is False
    assert all(0 <= p <= 1 for p in result.adjusted)
    order = np.argsort(p_values, kind="stable")
    adjusted_sorted = np.array(result.adjusted)[order]
    assert np.all(np.diff(adjusted_sorted) >= -1e-15)


def test_corrections__empty_family_gives_empty_list() -> None:
    assert adjust_p_values([], Correction.HOLM).adjusted == ()
    assert adjust_p_values([], Correction.BENJAMINI_HOCHBERG).adjusted == ()


def test_corrections__invalid_p_value() -> None:
    assert adjust_p_values([0.1, 1.5]).messages == (MessageCode.INVALID_INPUT,)
