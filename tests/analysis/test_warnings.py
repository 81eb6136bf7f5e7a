"""The data-quality warnings of an experiment's results: each one appears exactly when its cause does."""

from __future__ import annotations

from typing import Any

from experimently.analysis.results import _warnings
from experimently.experiments.models import Experiment
from experimently.metrics.aggregation import ExperimentStats

VARIANTS = [{"key": "control", "weight": 50}, {"key": "treatment", "weight": 50}]
CLEAN_SRM: dict[str, Any] = {"flagged": False, "p_value": 0.5}


def _experiment(min_sample_size: int | None = None) -> Experiment:
    return Experiment(key="exp", variants=VARIANTS, min_sample_size=min_sample_size)


def _stats(control: int = 500, treatment: int = 500, multi: int = 0) -> ExperimentStats:
    units = {"control": control, "treatment": treatment}
    return ExperimentStats("exp", units, multi_variant_units=multi, aggregated_at=None)


def codes(warnings: list[dict[str, Any]]) -> list[str]:
    return [w["code"] for w in warnings]


def test_clean_experiment__no_warning() -> None:
    assert _warnings(_experiment(min_sample_size=100), _stats(), CLEAN_SRM) == []


def test_srm_flagged__srm_warning_with_the_p_value() -> None:
    warnings = _warnings(_experiment(), _stats(400, 600), {"flagged": True, "p_value": 0.0001})
    assert codes(warnings) == ["SRM"]
    assert "p = 0.0001" in warnings[0]["message"]
    # read as a person reads it, not as 17 digits
    raw = _warnings(_experiment(), _stats(400, 600), {"flagged": True, "p_value": 1.667557345009891e-05})
    assert "p = 1.7e-05)" in raw[0]["message"]


def test_units_in_two_variants__multiple_exposures_warning_with_the_count() -> None:
    warnings = _warnings(_experiment(), _stats(multi=7), CLEAN_SRM)
    assert codes(warnings) == ["MULTIPLE_EXPOSURES"]
    assert warnings[0]["count"] == 7


def test_a_variant_below_the_minimum_sample__low_sample_warning() -> None:
    assert codes(_warnings(_experiment(min_sample_size=100), _stats(500, 99), CLEAN_SRM)) == ["LOW_SAMPLE"]
    # exactly at the minimum is enough
    assert _warnings(_experiment(min_sample_size=100), _stats(100, 100), CLEAN_SRM) == []


def test_no_exposures__no_data_instead_of_low_sample() -> None:
    assert codes(_warnings(_experiment(min_sample_size=100), _stats(0, 0), CLEAN_SRM)) == ["NO_DATA"]


def test_cuped_off_for_the_metric__said_as_such_not_as_missing_data() -> None:
    from experimently.analysis.presentation import summary
    from experimently.metrics.schemas import effective_format

    comparison = {
        "variant_key": "b",
        "control": {"key": "a", "units": 100, "mean": 1.0},
        "treatment": {"key": "b", "units": 100, "mean": 1.2},
        "absolute_lift": 0.2,
        "relative_lift": 0.2,
        "p_value": 0.04,
        "p_value_adjusted": 0.04,
        "verdict": "winner",
        "messages": ["CUPED_NO_PREPERIOD"],
    }
    common: dict[str, Any] = {
        "name": "Revenue",
        "kind": "mean",
        "fmt": effective_format("mean", None),
        "engine": "frequentist",
        "level": 0.95,
        "correction": "holm",
        "cuped": True,
        "thresholds": None,
    }
    analysis = {"comparisons": [comparison], "role": "goal"}
    off = summary(analysis, **common, pre_window=False)
    assert "[CUPED not applied: this metric has no pre-period window (cuped_pre_window_days is 0)]" in off
    assert "no pre-period data" in summary(analysis, **common, pre_window=True)
