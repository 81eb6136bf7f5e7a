"""A whole experiment: goal-metric p-values adjusted as one family, guardrails on their own, SRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from experimently.stats.model import (
    Comparison,
    Correction,
    Engine,
    ExperimentAnalysis,
    MetricAnalysis,
    MetricRole,
)
from experimently.stats.multiple import adjust_p_values
from experimently.stats.srm import SRM_THRESHOLD, srm_check
from experimently.stats.verdict import verdict_from_p_value


def units_from_metrics(metrics: Sequence[MetricAnalysis]) -> dict[str, int]:
    """Units per variant as seen by the first metric that has comparisons (its exposure counts)."""
    for metric in metrics:
        if metric.comparisons:
            first = metric.comparisons[0]
            units = {first.control.key: first.control.units}
            units.update({c.treatment.key: c.treatment.units for c in metric.comparisons})
            return units
    return {}


def _family(metrics: Sequence[MetricAnalysis]) -> list[tuple[int, int]]:
    """(metric index, comparison index) of every goal comparison with a p-value."""
    return [
        (mi, ci)
        for mi, metric in enumerate(metrics)
        if metric.role is MetricRole.GOAL and metric.engine is not Engine.BAYESIAN
        for ci, comparison in enumerate(metric.comparisons)
        if comparison.p_value is not None
    ]


def _with_adjusted(metric: MetricAnalysis, comparison: Comparison, adjusted: float) -> Comparison:
    verdict = verdict_from_p_value(
        adjusted, comparison.absolute_lift, alpha=metric.alpha, lower_is_better=metric.lower_is_better
    )
    return replace(comparison, p_value_adjusted=adjusted, verdict=verdict)


def analyze_experiment(
    metrics: Sequence[MetricAnalysis],
    weights: Mapping[str, float],
    correction: Correction = Correction.HOLM,
    *,
    units: Mapping[str, int] | None = None,
    srm_threshold: float = SRM_THRESHOLD,
) -> ExperimentAnalysis:
    """Adjust goal-metric p-values over every (goal metric x variant) pair and check SRM.

    Verdicts of goal comparisons are recomputed from the adjusted p-values; guardrail metrics and
    Bayesian metrics are left as they are. ``units`` defaults to the exposure counts of the first metric.
    """
    family = _family(metrics)
    raw = [metrics[mi].comparisons[ci].p_value or 0.0 for mi, ci in family]
    adjusted = adjust_p_values(raw, correction)
    rows = [list(m.comparisons) for m in metrics]
    for (mi, ci), p in zip(family, adjusted.adjusted, strict=True):
        rows[mi][ci] = _with_adjusted(metrics[mi], rows[mi][ci], p)
    updated = tuple(replace(m, comparisons=tuple(r)) for m, r in zip(metrics, rows, strict=True))
    srm = srm_check(
        units if units is not None else units_from_metrics(metrics), weights, threshold=srm_threshold
    )
    return ExperimentAnalysis(updated, srm, correction, len(family), intervals_adjusted=False)
