"""analyze_experiment: one family over goal metrics x variants, guardrails apart, SRM."""

from __future__ import annotations

import json

import pytest
from statsmodels.stats.multitest import multipletests

from experimently.stats import (
    Correction,
    MessageCode,
    MetricAnalysis,
    MetricRole,
    Verdict,
    analyze_experiment,
    analyze_metric,
    to_json_dict,
)

from .helpers import binomial_stats


def _metric(
    key: str, role: MetricRole, conversions: tuple[int, int, int], engine: str = "frequentist"
) -> MetricAnalysis:
    variants = [
        binomial_stats(name, 10000, conv) for name, conv in zip(("c", "t1", "t2"), conversions, strict=True)
    ]
    return analyze_metric("binomial", variants, control_key="c", metric_key=key, role=role, engine=engine)


def test_analyze_experiment__goal_family_adjusted_guardrails_untouched() -> None:
    # Given two goal metrics (4 comparisons) and one guardrail
    goals = [
        _metric("g1", MetricRole.GOAL, (1000, 1085, 1010)),
        _metric("g2", MetricRole.GOAL, (500, 560, 505)),
    ]
    guard = _metric("gr", MetricRole.GUARDRAIL, (300, 345, 300))
    # When
    result = analyze_experiment([*goals, guard], {"c": 1, "t1": 1, "t2": 1}, Correction.HOLM)
    # Then
    raw = [c.p_value for m in goals for c in m.comparisons]
    expected = multipletests(raw, method="holm")[1]
    adjusted = [c.p_value_adjusted for m in result.metrics[:2] for c in m.comparisons]
    assert adjusted == pytest.approx(list(expected), rel=1e-9)
    assert result.family_size == 4
    assert result.intervals_adjusted is False
    assert all(c.p_value_adjusted is None for c in result.metrics[2].comparisons)
    assert result.metrics[2].comparisons == guard.comparisons
    assert result.srm.p_value is not None and not result.srm.flagged


def test_analyze_experiment__verdict_uses_adjusted_p_value() -> None:
    # raw p ~ 0.04 is a winner alone, not after Holm over 4 comparisons
    goals = [
        _metric("g1", MetricRole.GOAL, (1000, 1090, 1000)),
        _metric("g2", MetricRole.GOAL, (1000, 1000, 1000)),
    ]
    raw = goals[0].comparisons[0]
    assert raw.p_value is not None and 0.01 < raw.p_value < 0.05 and raw.verdict is Verdict.WINNER
    result = analyze_experiment(goals, {"c": 1, "t1": 1, "t2": 1}, Correction.HOLM)
    assert result.metrics[0].comparisons[0].verdict is Verdict.INCONCLUSIVE


def test_analyze_experiment__srm_flagged_from_units() -> None:
    goals = [_metric("g1", MetricRole.GOAL, (1000, 1000, 1000))]
    result = analyze_experiment(
        goals, {"c": 1, "t1": 1, "t2": 1}, units={"c": 10000, "t1": 10000, "t2": 9000}
    )
    assert result.srm.flagged and result.srm.p_value is not None and result.srm.p_value < 1e-6


def test_analyze_experiment__empty_is_safe() -> None:
    result = analyze_experiment([], {"c": 1, "t": 1}, Correction.BENJAMINI_HOCHBERG)
    assert result.family_size == 0
    assert result.srm.messages == (MessageCode.SRM_NOT_APPLICABLE,)
    json.dumps(to_json_dict(result), allow_nan=False)


def test_analyze_experiment__bayesian_metrics_not_in_family() -> None:
    goals = [_metric("g1", MetricRole.GOAL, (1000, 1085, 1010), engine="bayesian")]
    result = analyze_experiment(goals, {"c": 1, "t1": 1, "t2": 1})
    assert result.family_size == 0
    assert result.metrics[0].comparisons == goals[0].comparisons
