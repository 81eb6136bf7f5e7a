"""Edges of the decision-making parts of the statistics engine (found by mutation testing): every
field of an SRM result, the boundaries of verdicts and SRM flags, and the multiple-testing corrections
on invalid input and without correction."""

from __future__ import annotations

import math

import pytest

from experimently.stats import Correction, MessageCode, Verdict, adjust_p_values, srm_check
from experimently.stats.verdict import verdict_from_chance, verdict_from_p_value


def test_srm__full_result_of_a_test() -> None:
    result = srm_check({"a": 520, "b": 480, "z": 0}, {"a": 1, "b": 1, "z": 0}, threshold=0.01)
    assert result.expected == {"a": 500.0, "b": 500.0}
    assert result.observed == {"a": 520, "b": 480}  # weight-0 variants without units are left out
    assert result.chi_square == pytest.approx(1.6)
    assert result.degrees_of_freedom == 1
    assert (result.threshold, result.flagged, result.messages) == (0.01, False, ())


def test_srm__flag_is_strictly_below_the_threshold() -> None:
    p = srm_check({"a": 550, "b": 450}, {"a": 1, "b": 1}).p_value
    assert p is not None
    assert srm_check({"a": 550, "b": 450}, {"a": 1, "b": 1}, threshold=p).flagged is False
    assert srm_check({"a": 550, "b": 450}, {"a": 1, "b": 1}, threshold=min(p * 1.01, 0.99)).flagged is True


def test_srm__one_unit_in_a_weight_zero_variant_flags() -> None:
    result = srm_check({"a": 10, "b": 10, "z": 1}, {"a": 1, "b": 1, "z": 0}, threshold=0.01)
    assert (result.p_value, result.flagged, result.threshold) == (0.0, True, 0.01)
    assert result.observed == {"a": 10, "b": 10, "z": 1}


def test_srm__not_applicable_keeps_observed_and_threshold() -> None:
    result = srm_check({"a": 0, "b": 0}, {"a": 1, "b": 1}, threshold=0.05)
    assert (result.flagged, result.observed, result.threshold) == (False, {"a": 0, "b": 0}, 0.05)
    assert result.messages == (MessageCode.SRM_NOT_APPLICABLE,)


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5, math.nan, math.inf])
def test_srm__threshold_outside_0_1__invalid(threshold: float) -> None:
    result = srm_check({"a": 10, "b": 12}, {"a": 1, "b": 1}, threshold=threshold)
    assert (result.flagged, result.p_value, result.messages) == (False, None, (MessageCode.INVALID_INPUT,))


@pytest.mark.parametrize(
    "weights", [{"a": 1.0, "b": math.nan}, {"a": 1.0, "b": -1.0}, {"a": 1.0, "b": math.inf}]
)
def test_srm__bad_weights__invalid_with_the_threshold_echoed(weights: dict[str, float]) -> None:
    result = srm_check({"a": 10, "b": 12}, weights, threshold=0.01)
    assert (result.flagged, result.threshold, result.messages) == (False, 0.01, (MessageCode.INVALID_INPUT,))


def test_verdict_from_p_value__boundaries() -> None:
    def verdict(p: float | None, lift: float | None, lower: bool = False) -> Verdict:
        return verdict_from_p_value(p, lift, alpha=0.05, lower_is_better=lower)

    assert verdict(0.05, 1.0) is Verdict.INCONCLUSIVE  # significant means strictly below alpha
    assert verdict(0.049, 1.0) is Verdict.WINNER
    assert verdict(0.049, -1.0) is Verdict.LOSER
    assert verdict(0.049, 1.0, lower=True) is Verdict.LOSER
    assert verdict(0.049, -1.0, lower=True) is Verdict.WINNER
    assert verdict(0.049, 0.0) is Verdict.INCONCLUSIVE
    assert verdict(None, 1.0) is Verdict.INCONCLUSIVE
    assert verdict(0.01, None) is Verdict.INCONCLUSIVE


def test_verdict_from_chance__thresholds_inclusive() -> None:
    def verdict(chance: float | None) -> Verdict:
        return verdict_from_chance(chance, win_threshold=0.95, lose_threshold=0.05)

    assert verdict(0.95) is Verdict.WINNER
    assert verdict(0.05) is Verdict.LOSER
    assert verdict(0.5) is Verdict.INCONCLUSIVE
    assert verdict(None) is Verdict.INCONCLUSIVE


def test_adjust__none_keeps_p_values() -> None:
    result = adjust_p_values([0.04, 0.01, 0.5], Correction.NONE)
    assert (result.adjusted, result.method, result.messages) == ((0.04, 0.01, 0.5), Correction.NONE, ())


@pytest.mark.parametrize("bad", [[0.01, math.nan], [0.01, 1.5], [-0.1]])
@pytest.mark.parametrize("method", list(Correction))
def test_adjust__invalid_p_values(bad: list[float], method: Correction) -> None:
    result = adjust_p_values(bad, method)
    assert (result.adjusted, result.method, result.messages) == ((), method, (MessageCode.INVALID_INPUT,))


@pytest.mark.parametrize("method", [Correction.HOLM, Correction.BENJAMINI_HOCHBERG])
def test_adjust__capped_at_one_and_never_below_the_raw_value(method: Correction) -> None:
    raw = [0.9, 0.8, 0.7, 0.02]
    result = adjust_p_values(raw, method)
    assert all(raw_p <= adjusted <= 1.0 for raw_p, adjusted in zip(raw, result.adjusted, strict=True))
    assert max(result.adjusted) == 1.0 if method is Correction.HOLM else max(result.adjusted) == 0.9
    assert result.method is method
