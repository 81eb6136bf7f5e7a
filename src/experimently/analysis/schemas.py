"""Analysis payloads. Numbers must be finite (NaN/Infinity are refused with a 422); statistically
impossible input (negative counts, alpha outside (0, 1)...) is answered with message codes instead."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from experimently.stats import Alternative, Engine, MetricKind, MetricRole

CorrectionName = Literal["holm", "bh", "benjamini-hochberg", "none"]


class _Finite(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class VariantInput(_Finite):
    key: str = Field(min_length=1, max_length=100)
    n: int = Field(ge=-(10**15), le=10**15)
    sum: float
    sum_squares: float
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    cross_sum: float | None = None
    denom_sum: float | None = None
    denom_sum_squares: float | None = None
    num_denom_cross: float | None = None


class MetricInput(_Finite):
    key: str = Field(default="metric", min_length=1, max_length=100)
    kind: MetricKind
    role: MetricRole = MetricRole.GOAL
    lower_is_better: bool = False
    variants: list[VariantInput] = Field(min_length=1, max_length=50)


class PriorInput(_Finite):
    mean: float = 0.0
    variance: float = Field(default=1.0, gt=0)


class ComputeRequest(_Finite):
    """The same analysis the results endpoint runs, from sufficient statistics given in the body."""

    metrics: list[MetricInput] = Field(min_length=1, max_length=100)
    control: str = Field(min_length=1, max_length=100)
    engine: Engine = Engine.FREQUENTIST
    alpha: float = 0.05
    alternative: Alternative = Alternative.TWO_SIDED
    cuped: bool = False
    correction: CorrectionName = "holm"
    weights: dict[str, float] | None = Field(
        default=None, description="configured weights, for the SRM check"
    )
    prior: PriorInput | None = None
    sequential_tuning: float = Field(default=5000.0, gt=0)


class PowerRequest(_Finite):
    """Give ``relative_mde`` for the sample size, ``units_per_arm`` for the detectable effect, or both for
    the power. ``daily_units`` (all arms) adds the days needed to reach the sample."""

    kind: MetricKind
    baseline_mean: float
    baseline_variance: float | None = Field(default=None, ge=0)
    relative_mde: float | None = None
    units_per_arm: int | None = Field(default=None, ge=1, le=1_000_000_000_000)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    alternative: Alternative = Alternative.TWO_SIDED
    daily_units: float | None = Field(default=None, gt=0)


class ResultsExperiment(BaseModel):
    id: str
    key: str
    status: str
    control: str
    started_at: str | None


class ResultsWarning(BaseModel):
    """A data-quality warning: SRM, MULTIPLE_EXPOSURES (with ``count``), NO_DATA, LOW_SAMPLE,
    METRIC_NOT_FOUND."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ResultsRead(BaseModel):
    """An experiment's results. ``metrics`` holds one analysis per metric (units, means, lifts with
    intervals, p-value or chance to win and risk, verdict) as the statistics engine serializes it;
    ``timeseries`` the cumulative lift per metric and day (see docs/statistics.md)."""

    experiment: ResultsExperiment
    engine: Engine
    cuped: bool
    correction: CorrectionName
    aggregated_at: str | None
    units: dict[str, int]
    srm: dict[str, Any]
    warnings: list[ResultsWarning]
    family_size: int
    intervals_adjusted: bool
    metrics: list[dict[str, Any]]
    timeseries: dict[str, list[dict[str, Any]]]
