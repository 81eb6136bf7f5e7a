"""Compute and power: thin adapters from payloads to the pure statistics engine."""

from __future__ import annotations

from typing import Any

from experimently.actor import Actor
from experimently.analysis.presentation import annotate_comparisons, applied_correction, correction_detail
from experimently.analysis.schemas import ANALYSED_AS, ComputeRequest, CorrectionName, PowerRequest
from experimently.errors import ValidationFailed
from experimently.rbac import Permission, permissions_for, require
from experimently.stats import (
    Alternative,
    Correction,
    Engine,
    MessageCode,
    MetricAnalysis,
    MetricKind,
    Prior,
    SrmResult,
    VariantStats,
    analyze_experiment,
    analyze_metric,
    days_to_sample,
    mde,
    power,
    sample_size,
    to_json_dict,
)

CORRECTIONS = {
    "holm": Correction.HOLM,
    "bh": Correction.BENJAMINI_HOCHBERG,
    "benjamini-hochberg": Correction.BENJAMINI_HOCHBERG,
    "none": Correction.NONE,
}


def correction_of(name: CorrectionName) -> Correction:
    return CORRECTIONS[name]


def require_analysis(actor: Actor) -> None:
    """People with analysis rights, or any authenticated role that reads analyses."""
    if Permission.ANALYSES_WRITE not in permissions_for(actor):
        require(actor, Permission.ANALYSES_READ)


def compute(actor: Actor, body: ComputeRequest) -> dict[str, Any]:
    require_analysis(actor)
    prior = Prior(body.prior.mean, body.prior.variance) if body.prior else None
    analyses: list[MetricAnalysis] = []
    for metric in body.metrics:
        variants = [VariantStats(**v.model_dump()) for v in metric.variants]
        analyses.append(
            analyze_metric(
                ANALYSED_AS[metric.kind],
                variants,
                control_key=body.control,
                engine=body.engine,
                alpha=body.alpha,
                alternative=body.alternative,
                cuped=body.cuped,
                lower_is_better=metric.lower_is_better,
                prior=prior,
                sequential_tuning=body.sequential_tuning,
                metric_key=metric.key,
                role=metric.role,
                win_threshold=body.win_threshold,
                lose_threshold=body.lose_threshold,
            )
        )
    result: dict[str, Any] = to_json_dict(
        analyze_experiment(analyses, body.weights or {}, correction_of(body.correction))
    )
    warnings: list[dict[str, str]] = []
    if body.weights:
        result["srm"] |= {"weights": body.weights, "weights_source": "request"}
    else:  # never a test against weights nobody configured (a deliberate 90/10 split is no mismatch)
        skipped = SrmResult(None, None, None, False, messages=(MessageCode.SRM_NOT_APPLICABLE,))
        result["srm"] = to_json_dict(skipped) | {
            "weights": None,
            "weights_source": "none",
        }
        warnings.append(
            {
                "code": "SRM_WEIGHTS_MISSING",
                "message": "no SRM check: send the configured weights per variant in `weights` "
                '(e.g. {"control": 50, "treatment": 50}) to check the sample ratio',
            }
        )
    engine = str(body.engine)
    level = 1.0 - body.alpha
    thresholds = (
        {"win": body.win_threshold, "lose": body.lose_threshold} if body.engine is Engine.BAYESIAN else None
    )
    for analysis in result["metrics"]:
        annotate_comparisons(analysis, engine=engine, level=level, thresholds=thresholds)
    result["interval_level"] = level
    result["thresholds"] = thresholds
    if engine == "bayesian":
        result["correction"] = applied_correction(body.correction, engine)
    result["correction_detail"] = correction_detail(body.correction, int(result["family_size"]), engine)
    result["warnings"] = warnings
    return result


def _refuse(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"path": path, "message": message}])


def _number(value: float) -> str:
    return f"{value:g}"


def check_power_request(body: PowerRequest) -> None:
    """Refuse, with a message that says what to send, every input the power calculation cannot use."""
    baseline, binomial = body.baseline_mean, ANALYSED_AS[body.kind] is MetricKind.BINOMIAL
    if binomial:
        if not 0.0 < baseline < 1.0:
            hint = (
                f": {_number(baseline)} looks like a percentage, send {baseline / 100:.2f}"
                if 1.0 <= baseline < 100.0
                else f" (got {_number(baseline)}), e.g. 0.12 for a 12% conversion rate"
            )
            raise _refuse(
                "baseline_mean", f"baseline_mean must be a rate in (0, 1) for binomial metrics{hint}"
            )
    else:
        if baseline == 0:
            raise _refuse(
                "baseline_mean",
                f"baseline_mean must not be 0 for {body.kind} metrics: the minimum detectable effect is "
                "relative to it; send the metric's recent mean per unit",
            )
        if body.baseline_variance is None:
            raise _refuse(
                "baseline_variance",
                f"baseline_variance is required for {body.kind} metrics: send the variance of the "
                "per-unit value (its standard deviation squared) over a recent period",
            )
        if body.baseline_variance == 0:
            raise _refuse(
                "baseline_variance",
                "baseline_variance must be above 0: with no variance every unit has the same value and "
                "there is nothing to test",
            )
    mde = body.relative_mde
    if mde is None:
        return
    if mde == 0:
        raise _refuse(
            "relative_mde",
            "relative_mde must not be 0: it is the relative change to detect, e.g. 0.05 for +5%",
        )
    if mde <= -1:
        raise _refuse(
            "relative_mde",
            f"relative_mde must be above -1 (got {_number(mde)}): -1 would mean the metric drops to 0; "
            "it is a fraction, e.g. -0.05 for -5%",
        )
    if body.alternative is Alternative.GREATER and mde < 0:
        raise _refuse(
            "relative_mde",
            f"relative_mde is negative ({_number(mde)}) but alternative is 'greater' (treatment above "
            "control): send a positive relative_mde, or alternative 'less' or 'two-sided'",
        )
    if body.alternative is Alternative.LESS and mde > 0:
        raise _refuse(
            "relative_mde",
            f"relative_mde is positive ({_number(mde)}) but alternative is 'less' (treatment below "
            "control): send a negative relative_mde, or alternative 'greater' or 'two-sided'",
        )
    if binomial and not 0.0 <= baseline * (1.0 + mde) <= 1.0:
        percent = 1 <= abs(mde) < 100
        hint = f"; {_number(mde)} looks like a percentage, send {_number(mde / 100)}" if percent else ""
        raise _refuse(
            "relative_mde",
            f"relative_mde {_number(mde)} moves the rate {_number(baseline)} to "
            f"{_number(baseline * (1.0 + mde))}, outside [0, 1]; relative_mde is a fraction of the "
            f"baseline (0.05 = +5%){hint}",
        )


RESULT_PROBLEMS = {
    "NUMERIC_RANGE": "the numbers are beyond what can be computed: check baseline_mean, "
    "baseline_variance and relative_mde for a misplaced unit or exponent",
    "NOT_ENOUGH_DATA": "units_per_arm is too small to detect any change of this rate with this power: "
    "send more units per arm",
    "ZERO_VARIANCE": "the variance is 0: send a baseline_variance above 0",
    "INVALID_INPUT": "these inputs cannot be used together: check baseline_mean (a rate in (0, 1) for "
    "binomial metrics), baseline_variance and relative_mde",
}


def _checked(result: Any) -> dict[str, Any]:
    """The result as JSON, or a 422 naming what to change when the input cannot be used. Finite input
    whose answer lies beyond the range of doubles stays a 200 with ``NUMERIC_RANGE`` and an
    ``explanation`` (the request is well-formed; the answer is "more than can be counted")."""
    messages = [str(m) for m in getattr(result, "messages", ())]
    out = to_json_dict(result)
    if messages and messages[0] != "NUMERIC_RANGE":
        raise _refuse("body", RESULT_PROBLEMS.get(messages[0], f"cannot compute: {messages[0]}"))
    if messages:
        out["explanation"] = RESULT_PROBLEMS["NUMERIC_RANGE"]
    return out


def plan(actor: Actor, body: PowerRequest) -> dict[str, Any]:
    require_analysis(actor)
    if body.relative_mde is None and body.units_per_arm is None:
        raise ValidationFailed(
            "give relative_mde (for the sample size), units_per_arm (for the detectable effect), or both "
            "(for the power)",
            [{"path": "relative_mde", "message": "required when units_per_arm is absent"}],
        )
    check_power_request(body)
    common: dict[str, Any] = {
        "baseline_variance": body.baseline_variance,
        "alpha": body.alpha,
        "alternative": body.alternative,
    }
    kind = ANALYSED_AS[body.kind]
    out: dict[str, Any] = {"kind": body.kind, "baseline_mean": body.baseline_mean}
    if body.relative_mde is not None and body.units_per_arm is None:
        size = sample_size(kind, body.baseline_mean, body.relative_mde, power=body.power, **common)
        out["sample_size"] = _checked(size)
        if size.units_per_arm:
            out["sample_size"]["total_units"] = total = size.units_per_arm * body.arms
            if body.daily_units:
                out["days_to_sample"] = _checked(days_to_sample(total, body.daily_units))
    elif body.units_per_arm is not None and body.relative_mde is None:
        out["mde"] = _checked(mde(kind, body.baseline_mean, body.units_per_arm, power=body.power, **common))
    else:
        assert body.relative_mde is not None and body.units_per_arm is not None
        out["power"] = _checked(
            power(kind, body.baseline_mean, body.relative_mde, body.units_per_arm, **common)
        )
    return out
