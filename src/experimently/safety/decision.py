"""The guarded-rollout decision, pure: sufficient statistics in, findings out (no I/O).

One check compares the units served the new variation (``treatment``) with the units still served the
old one (``control``) since the current step began:

1. **no traffic**: no unit at all yet -> nothing to judge (``NO_TRAFFIC``);
2. **minimum sample**: either group below ``min_units`` -> no decision yet (``NOT_ENOUGH_DATA``);
3. **sample ratio mismatch**: the split of units against the expected one (the step's percentage),
   under an anytime-valid test (:func:`srm_e_value`), so checking after every aggregation does not
   inflate its false alarms; a mismatch is a breach (the comparison cannot be trusted);
4. every **guardrail metric** under the always-valid sequential engine (``stats.sequential``, the same
   engine the experiment guardrail monitor uses) at ``alpha``: the new variation significantly worse
   in the metric's direction is a breach.

The success metric (optional) is compared the same way and reported; it never triggers an action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from experimently.stats import (
    Comparison,
    Engine,
    MetricKind,
    MetricRole,
    Verdict,
    analyze_metric,
    to_json_dict,
)
from experimently.stats.model import VariantStats

SRM_ALPHA = 0.001
# the Dirichlet prior's concentration of the anytime-valid SRM test (Lindon and Malek, 2022)
SRM_CONCENTRATION = 100.0


@dataclass(frozen=True)
class MetricInput:
    key: str
    kind: MetricKind
    lower_is_better: bool
    by_variant: dict[str, VariantStats]


@dataclass(frozen=True)
class Breach:
    kind: str  # "metric" or "srm"
    metric: str | None
    relative_lift: float | None
    interval: tuple[float | None, float | None] | None  # of the relative lift
    p_value: float | None
    absolute_lift: float | None = None
    absolute_interval: tuple[float | None, float | None] | None = None  # the one the test decides on

    def describe(self, treatment: str) -> str:
        if self.kind == "srm":
            return (
                f"sample ratio mismatch between the new variation '{treatment}' and the old one "
                f"(anytime-valid {_p(self.p_value)})"
            )
        lift = f"{self.relative_lift:+.1%}" if self.relative_lift is not None else "changed"
        lo, hi = self.absolute_interval or (None, None)
        diff = f"{self.absolute_lift:+.4g}" if self.absolute_lift is not None else "n/a"
        return (
            f"guardrail '{self.metric}' is significantly worse with '{treatment}': {lift} "
            f"(difference {diff} per unit, always-valid interval [{_num(lo)}, {_num(hi)}]), "
            f"{_p(self.p_value)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "metric": self.metric,
            "relative_lift": self.relative_lift,
            "relative_interval": list(self.interval) if self.interval else None,
            "absolute_lift": self.absolute_lift,
            "absolute_interval": list(self.absolute_interval) if self.absolute_interval else None,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class Check:
    status: str  # NO_TRAFFIC | NOT_ENOUGH_DATA | HEALTHY | BREACH
    units: dict[str, int]
    expected_share: float
    srm_p_value: float | None
    breaches: list[Breach] = field(default_factory=list)
    comparisons: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "units": self.units,
            "expected_share": self.expected_share,
            "srm_p_value": self.srm_p_value,
            "breaches": [b.to_json() for b in self.breaches],
            "comparisons": self.comparisons,
        }


def _p(value: float | None) -> str:
    if value is None:
        return "p n/a"
    return "p<0.0001" if value < 1e-4 else f"p={value:.2g}"


def _num(value: float | None) -> str:
    return "unbounded" if value is None else f"{value:+.4g}"


def srm_e_value(counts: list[int], weights: list[float]) -> float:
    """Anytime-valid SRM test for multinomial counts (Lindon and Malek, "Anytime-valid inference for
    multinomial count data", 2022): the Bayes factor of a Dirichlet(``SRM_CONCENTRATION`` x p) mixture
    against the expected proportions p. Under no mismatch it is a nonnegative martingale, so by Ville's
    inequality P(it ever exceeds 1/alpha) <= alpha: p = min(1, 1 / largest value seen). Returns the
    current log Bayes factor."""
    total_w = sum(weights)
    probs = [w / total_w for w in weights]
    prior = [SRM_CONCENTRATION * p for p in probs]
    n = sum(counts)
    log_bf = math.lgamma(sum(prior)) - math.lgamma(sum(prior) + n)
    for count, a, p in zip(counts, prior, probs, strict=True):
        if p <= 0:
            if count > 0:
                return math.inf
            continue
        log_bf += math.lgamma(a + count) - math.lgamma(a) - count * math.log(p)
    return log_bf


def srm_p_value(counts: list[int], weights: list[float]) -> float:
    log_bf = srm_e_value(counts, weights)
    return 1.0 if log_bf <= 0 else max(0.0, math.exp(-log_bf))


def _compare(metric: MetricInput, control: str, treatment: str, alpha: float) -> Comparison | None:
    arms = [metric.by_variant.get(k) or VariantStats(k, 0, 0.0, 0.0) for k in (control, treatment)]
    analysis = analyze_metric(
        metric.kind,
        arms,
        control_key=control,
        engine=Engine.SEQUENTIAL,
        alpha=alpha,
        lower_is_better=metric.lower_is_better,
        metric_key=metric.key,
        role=MetricRole.GUARDRAIL,
    )
    return analysis.comparisons[0] if analysis.comparisons else None


def decide(
    *,
    control: str,
    treatment: str,
    share: float,
    units: dict[str, int],
    guardrails: list[MetricInput],
    success: MetricInput | None,
    alpha: float,
    min_units: int,
    srm_min_p: float | None = None,
) -> Check:
    """One check of a rollout step. ``share`` is the expected fraction of units on ``treatment``;
    ``srm_min_p`` the smallest SRM p-value seen earlier in the step (the test is anytime-valid over the
    running minimum)."""
    counts = [int(units.get(control, 0)), int(units.get(treatment, 0))]
    if sum(counts) == 0:
        return Check("NO_TRAFFIC", dict(zip((control, treatment), counts, strict=True)), share, None)
    srm = srm_p_value(counts, [1.0 - share, share]) if 0.0 < share < 1.0 else None
    if srm is not None and srm_min_p is not None:
        srm = min(srm, srm_min_p)
    unit_map = dict(zip((control, treatment), counts, strict=True))
    if min(counts) < min_units:
        return Check("NOT_ENOUGH_DATA", unit_map, share, srm)
    breaches: list[Breach] = []
    if srm is not None and srm < SRM_ALPHA:
        breaches.append(Breach("srm", None, None, None, srm))
    comparisons: dict[str, dict[str, Any]] = {}
    for metric in guardrails:
        comparison = _compare(metric, control, treatment, alpha)
        if comparison is None:
            continue
        comparisons[metric.key] = to_json_dict(comparison) | {"role": "guardrail"}
        if comparison.verdict == Verdict.LOSER:
            rel, ab = comparison.relative_interval, comparison.absolute_interval
            breaches.append(
                Breach(
                    "metric",
                    metric.key,
                    comparison.relative_lift,
                    (rel.lower, rel.upper) if rel is not None else None,
                    comparison.p_value,
                    comparison.absolute_lift,
                    (ab.lower, ab.upper) if ab is not None else None,
                )
            )
    if success is not None:
        comparison = _compare(success, control, treatment, alpha)
        if comparison is not None:
            comparisons[success.key] = to_json_dict(comparison) | {"role": "success"}
    return Check("BREACH" if breaches else "HEALTHY", unit_map, share, srm, breaches, comparisons)


def step_alpha(alpha: float, comparison_steps: int | None, step_index: int) -> float:
    """The alpha spent on one step: ``alpha / k`` over the ``k`` steps below 100% of a schedule
    (Bonferroni), or ``alpha / 2^(i+1)`` for the i-th step of a manual rollout (whose number of steps is
    not known in advance). Either way the chance of any false rollback over the whole rollout is at
    most ``alpha`` (plus the SRM test's ``SRM_ALPHA`` per step)."""
    if comparison_steps:
        return alpha / comparison_steps
    return alpha / float(2 ** (step_index + 1))
