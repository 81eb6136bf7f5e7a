"""Input and result types of the statistics engine: frozen dataclasses and string enums.

Every result carries ``messages``: a tuple of :class:`MessageCode` explaining degenerate input.
No function of the engine raises on statistical input, and no result field is NaN or infinite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class MessageCode(StrEnum):
    """Why a result is partial or absent. Several codes may apply to one result."""

    INVALID_INPUT = "INVALID_INPUT"
    NOT_ENOUGH_DATA = "NOT_ENOUGH_DATA"
    ZERO_VARIANCE = "ZERO_VARIANCE"
    CONTROL_MEAN_ZERO = "CONTROL_MEAN_ZERO"
    CUPED_NO_PREPERIOD = "CUPED_NO_PREPERIOD"
    CUPED_NOT_SUPPORTED = "CUPED_NOT_SUPPORTED"
    SRM_NOT_APPLICABLE = "SRM_NOT_APPLICABLE"
    NUMERIC_RANGE = "NUMERIC_RANGE"  # finite inputs whose result is beyond what a double holds


class Engine(StrEnum):
    FREQUENTIST = "frequentist"
    SEQUENTIAL = "sequential"
    BAYESIAN = "bayesian"


class MetricKind(StrEnum):
    BINOMIAL = "binomial"
    COUNT = "count"
    MEAN = "mean"
    RATIO = "ratio"


class Alternative(StrEnum):
    TWO_SIDED = "two-sided"
    GREATER = "greater"  # treatment > control
    LESS = "less"  # treatment < control


class Correction(StrEnum):
    NONE = "none"
    HOLM = "holm"
    BENJAMINI_HOCHBERG = "benjamini-hochberg"


class Verdict(StrEnum):
    WINNER = "winner"
    LOSER = "loser"
    INCONCLUSIVE = "inconclusive"


class MetricRole(StrEnum):
    GOAL = "goal"
    GUARDRAIL = "guardrail"


@dataclass(frozen=True, slots=True)
class VariantStats:
    """Sufficient statistics of one variant, aggregated per unit (user) in SQL.

    ``sum``/``sum_squares`` are of the per-unit metric value (binomial: conversions, so both equal the
    number of converted units; ratio: the numerator). CUPED adds the pre-period covariate ``x``:
    ``pre_sum`` = sum(x), ``pre_sum_squares`` = sum(x^2), ``cross_sum`` = sum(x*y). Ratio metrics add the
    denominator ``d``: ``denom_sum``, ``denom_sum_squares`` and ``num_denom_cross`` = sum(y*d).
    """

    key: str
    n: int
    sum: float
    sum_squares: float
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    cross_sum: float | None = None
    denom_sum: float | None = None
    denom_sum_squares: float | None = None
    num_denom_cross: float | None = None


@dataclass(frozen=True, slots=True)
class Prior:
    """Normal prior on the absolute effect (treatment mean minus control mean), in metric units."""

    mean: float = 0.0
    variance: float = 1.0


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence/credible interval; ``None`` marks an unbounded end (one-sided tests)."""

    lower: float | None
    upper: float | None


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """Descriptive statistics of one arm. ``mean`` is the ratio of means for ratio metrics."""

    key: str
    units: int
    mean: float | None
    std_dev: float | None


@dataclass(frozen=True, slots=True)
class Risk:
    """Expected loss, in metric units, of shipping treatment / keeping control (never negative)."""

    treatment: float
    control: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment variant against the control, for one metric."""

    variant_key: str
    control: ArmSummary
    treatment: ArmSummary
    absolute_lift: float | None = None
    absolute_interval: Interval | None = None
    relative_lift: float | None = None
    relative_interval: Interval | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    chance_to_win: float | None = None
    risk: Risk | None = None
    # Bayesian: standard deviation of the posterior of the absolute difference (None otherwise)
    posterior_sd: float | None = None
    verdict: Verdict = Verdict.INCONCLUSIVE
    cuped_theta: float | None = None
    cuped_variance_reduction: float | None = None
    degrees_of_freedom: float | None = None
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricAnalysis:
    """All comparisons of one metric, with the settings that produced them."""

    metric_key: str
    role: MetricRole
    kind: MetricKind
    engine: Engine
    control_key: str
    alpha: float
    alternative: Alternative
    lower_is_better: bool
    cuped: bool
    comparisons: tuple[Comparison, ...] = ()
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class SrmResult:
    """Sample-ratio-mismatch check. ``p_value`` is None when no test was run."""

    p_value: float | None
    chi_square: float | None
    degrees_of_freedom: int | None
    flagged: bool
    expected: dict[str, float] = field(default_factory=dict)
    observed: dict[str, int] = field(default_factory=dict)
    threshold: float = 0.001
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class MultipleTestingResult:
    adjusted: tuple[float, ...]
    method: Correction
    intervals_adjusted: bool = False
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class ExperimentAnalysis:
    """Every metric of one experiment, goal-metric p-values adjusted as one family, plus SRM."""

    metrics: tuple[MetricAnalysis, ...]
    srm: SrmResult
    correction: Correction
    family_size: int
    intervals_adjusted: bool = False
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class SampleSizeResult:
    units_per_arm: int | None
    total_units: int | None
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class MdeResult:
    relative_mde: float | None
    absolute_mde: float | None
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class PowerResult:
    power: float | None
    messages: tuple[MessageCode, ...] = ()


@dataclass(frozen=True, slots=True)
class DaysResult:
    days: int | None
    messages: tuple[MessageCode, ...] = ()
