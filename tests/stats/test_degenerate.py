"""Degenerate input: every message code, never an exception, never NaN/Infinity in JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from experimently.stats import (
    Engine,
    MessageCode,
    MetricKind,
    Prior,
    VariantStats,
    analyze_metric,
    to_json_dict,
)

from .helpers import binomial_stats, stats_of

ENGINES = list(Engine)


def _dumps(result: object) -> str:
    return json.dumps(to_json_dict(result), allow_nan=False)


INVALID = [
    (MetricKind.BINOMIAL, [binomial_stats("c", 100, 10), VariantStats("t", 100, 120.0, 120.0)]),  # conv > n
    (MetricKind.MEAN, [VariantStats("c", -5, 1.0, 1.0), VariantStats("t", 10, 1.0, 1.0)]),  # negative n
    (MetricKind.MEAN, [VariantStats("c", 10, 10.0, 5.0), VariantStats("t", 10, 1.0, 1.0)]),  # variance < 0
    (MetricKind.COUNT, [VariantStats("c", 10, -3.0, 9.0), VariantStats("t", 10, 1.0, 1.0)]),  # negative count
    (MetricKind.MEAN, [VariantStats("c", 10, float("nan"), 1.0), VariantStats("t", 10, 1.0, 1.0)]),
    (
        MetricKind.BINOMIAL,
        [VariantStats("c", 10, 3.0, 2.0), binomial_stats("t", 10, 1)],
    ),  # sum_squares != sum
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("kind", "variants"), INVALID)
def test_invalid_input__message_and_json_safe(engine: str, kind: str, variants: list[VariantStats]) -> None:
    result = analyze_metric(kind, variants, control_key="c", engine=engine)
    assert result.comparisons[0].messages == (MessageCode.INVALID_INPUT,)
    assert result.comparisons[0].p_value is None
    _dumps(result)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"alpha": float("nan")},
        {"control_key": "missing"},
        {"prior": Prior(0.0, 0.0)},
        {"engine": "nonsense"},
        {"sequential_tuning": -1.0},
        {"win_threshold": 0.01},
    ],
)
def test_invalid_settings__metric_level_invalid_input(kwargs: dict[str, Any]) -> None:
    variants = [binomial_stats("c", 100, 10), binomial_stats("t", 100, 12)]
    arguments: dict[str, Any] = {"control_key": "c"} | kwargs
    result = analyze_metric("binomial", variants, **arguments)
    assert result.messages == (MessageCode.INVALID_INPUT,)
    assert result.comparisons == ()
    _dumps(result)


def test_duplicate_variant_keys__invalid_input() -> None:
    variants = [binomial_stats("c", 100, 10), binomial_stats("c", 100, 12)]
    assert analyze_metric("binomial", variants, control_key="c").messages == (MessageCode.INVALID_INPUT,)


def test_cuped_partial_preperiod__invalid_input() -> None:
    variants = [
        VariantStats("c", 10, 5.0, 5.0, pre_sum=3.0),
        VariantStats("t", 10, 5.0, 5.0),
    ]
    c = analyze_metric("mean", variants, control_key="c", cuped=True).comparisons[0]
    assert c.messages == (MessageCode.INVALID_INPUT,)


def test_cuped_impossible_cross_product__invalid_input() -> None:
    y = np.arange(10.0)
    variants = [
        VariantStats(
            "c", 10, float(y.sum()), float((y * y).sum()), float(y.sum()), float((y * y).sum()), 1e6
        ),
        stats_of("t", y, y),
    ]
    c = analyze_metric("mean", variants, control_key="c", cuped=True).comparisons[0]
    assert c.messages == (MessageCode.INVALID_INPUT,)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("n_c", "n_t"), [(0, 0), (1, 50), (50, 0), (1, 1)])
def test_not_enough_data(engine: str, n_c: int, n_t: int) -> None:
    variants = [binomial_stats("c", n_c, 0), binomial_stats("t", n_t, min(n_t, 3))]
    c = analyze_metric("binomial", variants, control_key="c", engine=engine).comparisons[0]
    assert c.messages == (MessageCode.NOT_ENOUGH_DATA,)
    assert c.p_value is None and c.chance_to_win is None
    _dumps(c)


def test_only_control__not_enough_data() -> None:
    result = analyze_metric("binomial", [binomial_stats("c", 100, 3)], control_key="c")
    assert result.messages == (MessageCode.NOT_ENOUGH_DATA,) and result.comparisons == ()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("kind", "variants"),
    [
        ("mean", [VariantStats("c", 10, 50.0, 250.0), VariantStats("t", 10, 70.0, 490.0)]),  # all 5 vs all 7
        ("binomial", [binomial_stats("c", 100, 0), binomial_stats("t", 100, 0)]),
        ("binomial", [binomial_stats("c", 100, 100), binomial_stats("t", 80, 80)]),
    ],
)
def test_zero_variance__no_p_value_but_point_estimates(
    engine: str, kind: str, variants: list[VariantStats]
) -> None:
    c = analyze_metric(kind, variants, control_key="c", engine=engine).comparisons[0]
    assert MessageCode.ZERO_VARIANCE in c.messages
    assert c.p_value is None and c.absolute_interval is None and c.chance_to_win is None
    assert c.absolute_lift is not None
    _dumps(c)


def test_zero_variance_rule__tiny_relative_variance_counts_as_zero() -> None:
    # variance 1e-14 on values of size 1e3: below 1e-12 x mean of squares
    n = 4
    values = np.array([1000.0, 1000.0, 1000.0, 1000.0 + 2e-7])
    c = analyze_metric("mean", [stats_of("c", values), stats_of("t", np.full(n, 1000.0))], control_key="c")
    assert MessageCode.ZERO_VARIANCE in c.comparisons[0].messages


@pytest.mark.parametrize("engine", ENGINES)
def test_control_mean_zero__relative_null_absolute_given(engine: str) -> None:
    variants = [binomial_stats("c", 100, 0), binomial_stats("t", 100, 5)]
    c = analyze_metric("binomial", variants, control_key="c", engine=engine).comparisons[0]
    assert c.messages == (MessageCode.CONTROL_MEAN_ZERO,)
    assert c.relative_lift is None and c.relative_interval is None
    assert c.absolute_lift == pytest.approx(0.05) and c.absolute_interval is not None
    _dumps(c)


def test_several_messages__cuped_no_preperiod_with_control_mean_zero() -> None:
    rng = np.random.default_rng(1)
    y_c = rng.normal(0, 1, 30)
    y_c -= y_c.mean()
    variants = [
        VariantStats("c", 30, 0.0, float((y_c * y_c).sum())),
        stats_of("t", rng.normal(1, 1, 30)),
    ]
    c = analyze_metric("mean", variants, control_key="c", cuped=True).comparisons[0]
    assert c.messages == (MessageCode.CUPED_NO_PREPERIOD, MessageCode.CONTROL_MEAN_ZERO)


def test_to_json_dict__one_sided_interval_end_is_null() -> None:
    variants = [binomial_stats("c", 1000, 100), binomial_stats("t", 1000, 130)]
    data = to_json_dict(analyze_metric("binomial", variants, control_key="c", alternative="greater"))
    comparisons = data["comparisons"]
    assert isinstance(comparisons, list) and isinstance(comparisons[0], dict)
    interval = comparisons[0]["absolute_interval"]
    assert isinstance(interval, dict)
    assert interval["upper"] is None and isinstance(interval["lower"], float)
    assert json.loads(_dumps(analyze_metric("binomial", variants, control_key="c")))["kind"] == "binomial"


def test_to_json_dict__non_finite_floats_become_null() -> None:
    from experimently.stats import Interval

    assert to_json_dict(Interval(float("inf"), float("nan"))) == {"lower": None, "upper": None}


@pytest.mark.parametrize("engine", ENGINES)
def test_overflowed_sum_of_squares__numeric_range_not_invalid(engine: Engine) -> None:
    # a value of 1e200 is finite; its square, added up where the sums are kept, is not: the input was
    # possible, the arithmetic left the range of doubles
    big = VariantStats("t", 10, 1e200 + 9.0, float("inf"))
    result = analyze_metric(
        MetricKind.MEAN, [VariantStats("c", 10, 10.0, 12.0), big], control_key="c", engine=engine
    )
    [comparison] = result.comparisons
    assert comparison.messages == (MessageCode.NUMERIC_RANGE,)
    assert comparison.absolute_lift is None
    _dumps(result)
    # a NaN beside it is still an impossible input
    broken = VariantStats("t", 10, float("nan"), float("inf"))
    [nan] = analyze_metric(
        MetricKind.MEAN, [VariantStats("c", 10, 10.0, 12.0), broken], control_key="c", engine=engine
    ).comparisons
    assert nan.messages == (MessageCode.INVALID_INPUT,)
