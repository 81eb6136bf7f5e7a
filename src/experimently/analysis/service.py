"""Compute and power: thin adapters from payloads to the pure statistics engine."""

from __future__ import annotations

from typing import Any

from experimently.actor import Actor
from experimently.analysis.schemas import ComputeRequest, CorrectionName, PowerRequest
from experimently.errors import ValidationFailed
from experimently.rbac import Permission, permissions_for, require
from experimently.stats import (
    Correction,
    MetricAnalysis,
    Prior,
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
            )
        )
    keys = [v.key for v in body.metrics[0].variants]
    weights = body.weights or dict.fromkeys(keys, 1.0)
    result = analyze_experiment(analyses, weights, correction_of(body.correction))
    return to_json_dict(result)


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
