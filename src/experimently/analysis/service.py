"""Compute and power: thin adapters from payloads to the pure statistics engine."""

from __future__ import annotations

from typing import Any

from experimently.actor import Actor
from experimently.analysis.presentation import annotate_comparisons, correction_detail
from experimently.analysis.schemas import ComputeRequest, CorrectionName, PowerRequest
from experimently.errors import ValidationFailed
from experimently.rbac import Permission, permissions_for, require
from experimently.stats import (
    Correction,
    Engine,
    MessageCode,
    MetricAnalysis,
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
                metric.kind,
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
    result["correction_detail"] = correction_detail(body.correction, int(result["family_size"]), engine)
    result["warnings"] = warnings
    return result


def plan(actor: Actor, body: PowerRequest) -> dict[str, Any]:
    require_analysis(actor)
    common: dict[str, Any] = {
        "baseline_variance": body.baseline_variance,
        "alpha": body.alpha,
        "alternative": body.alternative,
    }
    out: dict[str, Any] = {"kind": body.kind, "baseline_mean": body.baseline_mean}
    if body.relative_mde is None and body.units_per_arm is None:
        raise ValidationFailed(
            "give relative_mde, units_per_arm, or both",
            [{"path": "relative_mde", "message": "required when units_per_arm is absent"}],
        )
    if body.relative_mde is not None and body.units_per_arm is None:
        size = sample_size(body.kind, body.baseline_mean, body.relative_mde, power=body.power, **common)
        out["sample_size"] = to_json_dict(size)
        if body.daily_units and size.total_units:
            out["days_to_sample"] = to_json_dict(days_to_sample(size.total_units, body.daily_units))
    elif body.units_per_arm is not None and body.relative_mde is None:
        out["mde"] = to_json_dict(
            mde(body.kind, body.baseline_mean, body.units_per_arm, power=body.power, **common)
        )
    else:
        assert body.relative_mde is not None and body.units_per_arm is not None
        out["power"] = to_json_dict(
            power(body.kind, body.baseline_mean, body.relative_mde, body.units_per_arm, **common)
        )
    return out
