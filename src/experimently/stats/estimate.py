"""From sufficient statistics to the estimated difference between two arms.

Every engine consumes a :class:`DiffEstimate`: the two arm means, the variances of those means and,
for Welch tests, the Welch-Satterthwaite degrees of freedom. CUPED and ratio metrics produce the same
shape, so the engines do not care where the numbers came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from experimently.stats.model import MetricKind
from experimently.stats.validate import centered_sum_of_squares, is_zero_variance


@dataclass(frozen=True, slots=True)
class ArmMoments:
    """One arm: ``variance`` is the per-unit variance used for inference.

    Means/counts: the sample variance (divisor n - 1). Binomial: ``p(1 - p)`` (no n/(n-1) correction).
    Ratio: the delta-method (linearised) per-unit variance of the ratio of means.
    ``zero`` is the conventions' zero-variance rule applied to this arm.
    """

    n: int
    mean: float
    variance: float
    zero: bool


@dataclass(frozen=True, slots=True)
class DiffEstimate:
    """Treatment minus control. ``se2_*`` are variances of the arm means (variance / n).

    ``mean_t`` is the effective treatment mean: with CUPED it is ``mean_c + adjusted difference`` so the
    relative lift ``mean_t / mean_c - 1`` equals ``adjusted difference / unadjusted control mean``.
    ``raw_mean_t`` (CUPED only) is the unadjusted treatment mean: the delta-method variance of the
    relative lift keeps it and replaces only the variances (the conventions, docs/statistics.md).
    ``df`` is the Welch-Satterthwaite df, or None when the normal quantile applies.
    """

    mean_c: float
    mean_t: float
    se2_c: float
    se2_t: float
    n_c: int
    n_t: int
    df: float | None
    zero_variance: bool
    raw_mean_t: float | None = None

    @property
    def diff(self) -> float:
        return self.mean_t - self.mean_c

    @property
    def var_diff(self) -> float:
        return self.se2_t + self.se2_c

    @property
    def n_total(self) -> int:
        return self.n_c + self.n_t

    @property
    def relative(self) -> float | None:
        return None if self.mean_c == 0 else self.mean_t / self.mean_c - 1.0

    @property
    def var_relative(self) -> float | None:
        """Delta method: Var(mt/mc) ~ se2_t/mc^2 + mt^2 se2_c / mc^4, ``mt`` the raw treatment mean."""
        if self.mean_c == 0:
            return None
        mc2 = self.mean_c * self.mean_c
        mt = self.mean_t if self.raw_mean_t is None else self.raw_mean_t
        return self.se2_t / mc2 + mt * mt * self.se2_c / (mc2 * mc2)


def sample_variance(n: int, total: float, squares: float, zero_rule: bool = True) -> float:
    """Sample variance (divisor n - 1) from sums; the zero rule snaps tiny values to exactly 0."""
    centered = centered_sum_of_squares(n, total, squares) or 0.0
    variance = centered / (n - 1) if n > 1 else 0.0
    if zero_rule and n > 0 and is_zero_variance(variance, squares / n):
        return 0.0
    return variance


def welch_df(se2_t: float, se2_c: float, n_t: int, n_c: int) -> float | None:
    """Welch-Satterthwaite degrees of freedom; None when both variances are 0."""
    denominator = se2_t * se2_t / (n_t - 1) + se2_c * se2_c / (n_c - 1)
    if denominator <= 0:
        return None
    return (se2_t + se2_c) ** 2 / denominator


def plain_estimate(kind: MetricKind, c: ArmMoments, t: ArmMoments) -> DiffEstimate:
    """The unadjusted difference. Welch df for means and counts; normal quantile otherwise."""
    se2_c, se2_t = c.variance / c.n, t.variance / t.n
    df = welch_df(se2_t, se2_c, t.n, c.n) if kind in (MetricKind.MEAN, MetricKind.COUNT) else None
    if kind is MetricKind.BINOMIAL:
        pooled = (c.mean * c.n + t.mean * t.n) / (c.n + t.n)
        zero = pooled <= 0.0 or pooled >= 1.0
    else:
        zero = c.zero and t.zero
    return DiffEstimate(c.mean, t.mean, se2_c, se2_t, c.n, t.n, df, zero)
