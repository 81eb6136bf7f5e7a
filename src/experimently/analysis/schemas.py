"""Analysis payloads. Numbers must be finite (NaN/Infinity are refused with a 422); statistically
impossible input (negative counts, alpha outside (0, 1)...) is answered with message codes instead."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from experimently.metrics.schemas import MetricFormat
from experimently.stats import Alternative, Engine, MetricKind, MetricRole

CorrectionName = Literal["holm", "bh", "benjamini-hochberg", "none"]
# a metric's kind as defined, and how the engine analyses it: a sum metric (the sum of a value per unit)
# is the mean of that per-unit sum over the exposed units
DefinedKind = Literal["binomial", "count", "sum", "mean", "ratio"]
ANALYSED_AS: dict[str, MetricKind] = {
    "binomial": MetricKind.BINOMIAL,
    "count": MetricKind.COUNT,
    "sum": MetricKind.MEAN,
    "mean": MetricKind.MEAN,
    "ratio": MetricKind.RATIO,
}
DEFAULT_WIN_THRESHOLD, DEFAULT_LOSE_THRESHOLD = 0.95, 0.05


def threshold_problem(win: float, lose: float) -> str | None:
    """Why a pair of Bayesian thresholds is refused (None when 0 < lose < win < 1)."""
    if not (0.0 < lose < win < 1.0):
        return (
            f"Bayesian thresholds must satisfy 0 < lose_threshold < win_threshold < 1 (got "
            f"win_threshold={win}, lose_threshold={lose}); e.g. win_threshold=0.95, lose_threshold=0.05"
        )
    return None


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
    kind: DefinedKind = Field(description="as the metric is defined; `sum` is analysed as `mean` (per unit)")
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
    win_threshold: float = Field(
        default=DEFAULT_WIN_THRESHOLD, description="Bayesian: chance to win at or above which a variant wins"
    )
    lose_threshold: float = Field(
        default=DEFAULT_LOSE_THRESHOLD, description="Bayesian: chance to win at or below which it loses"
    )

    @model_validator(mode="after")
    def _thresholds(self) -> ComputeRequest:
        problem = threshold_problem(self.win_threshold, self.lose_threshold)
        if problem:
            raise ValueError(problem)
        if self.weights is not None and (
            any(w < 0 for w in self.weights.values()) or not any(w > 0 for w in self.weights.values())
        ):
            # no experiment is configured so: every variant would get no traffic
            raise ValueError("weights must not be negative, and at least one must be above 0")
        return self


class PowerRequest(_Finite):
    """Give ``relative_mde`` for the sample size, ``units_per_arm`` for the detectable effect, or both for
    the power. ``daily_units`` (all arms) adds the days needed to reach the sample in each of ``arms``."""

    kind: DefinedKind = Field(description="as the metric is defined; `sum` is planned as `mean` (per unit)")
    baseline_mean: float
    baseline_variance: float | None = Field(default=None, ge=0)
    relative_mde: float | None = None
    units_per_arm: int | None = Field(default=None, ge=1, le=1_000_000_000_000)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    alternative: Alternative = Alternative.TWO_SIDED
    daily_units: float | None = Field(default=None, gt=0)
    arms: int = Field(
        default=2,
        ge=2,
        le=26,
        description="arms sharing ``daily_units`` evenly, control included: the days to reach "
        "``units_per_arm`` in every arm",
    )


class ResultsExperiment(BaseModel):
    id: str
    key: str
    status: str
    control: str
    started_at: str | None


class ResultsWarning(BaseModel):
    """A data-quality warning: SRM, MULTIPLE_EXPOSURES (with ``count``), NO_DATA (with
    ``next_aggregation_at``), LOW_SAMPLE, METRIC_NOT_FOUND, SRM_WEIGHTS_MISSING."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class IntervalRead(BaseModel):
    """An interval; ``null`` marks an unbounded end (one-sided tests)."""

    lower: float | None
    upper: float | None


class ArmRead(BaseModel):
    key: str
    units: int
    mean: float | None
    std_dev: float | None


class RiskRead(BaseModel):
    """Expected loss in metric units of shipping treatment / keeping control (Bayesian)."""

    treatment: float
    control: float


class ComparisonRead(BaseModel):
    """One variant against control. The numbers are raw and exact (no rounding)."""

    variant_key: str
    control: ArmRead
    treatment: ArmRead
    absolute_lift: float | None
    absolute_interval: IntervalRead | None
    relative_lift: float | None
    relative_interval: IntervalRead | None
    p_value: float | None
    p_value_adjusted: float | None
    chance_to_win: float | None
    risk: RiskRead | None
    posterior_sd: float | None = Field(
        description="Bayesian: standard deviation of the posterior of the absolute difference; else null"
    )
    verdict: Literal["winner", "loser", "inconclusive"]
    cuped_theta: float | None
    cuped_variance_reduction: float | None
    degrees_of_freedom: float | None
    messages: list[str]
    interval_level: float = Field(description="level of absolute_interval and relative_interval, e.g. 0.95")
    absolute_lift_meaning: str = Field(description="what absolute_lift is under this engine")
    verdict_note: str | None = Field(
        None, description="Bayesian: why a winner's or loser's interval can still contain 0"
    )


class MetricInfo(BaseModel):
    """The metric as defined: ``kind`` is the defined kind (a sum metric says ``sum``)."""

    key: str
    name: str
    kind: DefinedKind
    direction: Literal["higher", "lower"]
    format: MetricFormat


class MetricResultRead(BaseModel):
    metric_key: str
    role: Literal["goal", "guardrail"]
    kind: str = Field(description="the metric's kind as defined (same as metric.kind)")
    engine: Engine
    control_key: str
    alpha: float
    alternative: Alternative
    lower_is_better: bool
    cuped: bool
    comparisons: list[ComparisonRead]
    messages: list[str]
    metric: MetricInfo
    summary: str = Field(description="plain-language reading of this metric's comparisons")


class TimeseriesComparison(BaseModel):
    variant: str
    relative_lift: float | None
    relative_interval: IntervalRead | None
    absolute_lift: float | None
    units: int
    control_units: int


class TimeseriesPoint(BaseModel):
    """Cumulative statistics of the units first exposed up to ``day`` (frequentist, fixed horizon)."""

    day: str
    comparisons: list[TimeseriesComparison]


class SrmRead(BaseModel):
    """Pearson chi-square of units per variant against ``weights`` (flagged at p < ``threshold``)."""

    model_config = ConfigDict(extra="allow")

    p_value: float | None
    chi_square: float | None
    degrees_of_freedom: int | None
    flagged: bool
    expected: dict[str, float]
    observed: dict[str, int]
    threshold: float
    messages: list[str]
    weights: dict[str, float] | None = Field(None, description="the weights the check used")
    weights_source: Literal["experiment", "request", "none"] = Field(
        "experiment", description="where the weights came from; none: no check was run"
    )


class Thresholds(BaseModel):
    win: float
    lose: float


class CorrectionDetail(BaseModel):
    method: Literal["holm", "benjamini-hochberg", "none"]
    adjusts: list[str] = Field(description="the fields the correction adjusted (into *_adjusted)")
    family_size: int
    intervals_adjusted: bool
    explanation: str


class ResultsRead(BaseModel):
    """An experiment's results (docs/statistics.md, "How to read a result"). ``metrics`` holds one
    analysis per metric (units, means, lifts with intervals, p-value or chance to win and risk, verdict,
    the metric as defined and a plain-language summary); ``timeseries`` the cumulative lift per metric
    and day."""

    experiment: ResultsExperiment
    engine: Engine
    cuped: bool
    correction: CorrectionName
    aggregated_at: str | None
    units: dict[str, int]
    srm: SrmRead
    warnings: list[ResultsWarning]
    family_size: int
    intervals_adjusted: bool
    interval_level: float
    thresholds: Thresholds | None = Field(description="Bayesian win/lose thresholds used; null otherwise")
    correction_detail: CorrectionDetail
    metrics: list[MetricResultRead]
    timeseries: dict[str, list[TimeseriesPoint]]


class AggregateRead(BaseModel):
    experiment_key: str
    aggregated_at: str | None
    duration_ms: float
    events_waiting: int | None = Field(
        description=(
            "0: every event accepted before the call was written, and counted, before it aggregated "
            "(it waits up to 5 s for them); otherwise how many events the queue still held then, to "
            "be counted by the next run; null: the queue could not be read"
        )
    )


class ResultsMeta(BaseModel):
    """``meta`` of the results: when the statistics were last aggregated and the next run is due."""

    aggregated_at: str | None
    next_aggregation_at: str | None = Field(description="null when the scheduled runs do not cover it")
    aggregation_interval_seconds: int
    aggregating: bool = Field(
        default=True,
        description=(
            "the scheduled aggregation covers the experiment: running and paused ones, and completed "
            "ones until final_after"
        ),
    )
    ended_at: str | None = Field(
        default=None,
        description="a completed experiment's end: exposures and events after it are not counted",
    )
    final_after: str | None = Field(
        default=None,
        description=(
            "a completed experiment's last scheduled run: until then, events that happened before the "
            "end and arrive late still count"
        ),
    )
    intervals_adjusted: bool = False
