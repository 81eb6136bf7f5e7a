"""``GET /experiments/{id}/results``: the experiment's aggregates run through the statistics engine.

Served from the aggregates (never raw events), cached in L1 under a key that includes the time of the
last aggregation, so a result is recomputed exactly when new aggregates land (or the experiment or a
metric definition changes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.analysis.schemas import CorrectionName
from experimently.analysis.service import correction_of, require_analysis
from experimently.cache import Cache
from experimently.experiments import service as experiments
from experimently.experiments.models import Experiment
from experimently.metrics import repository as metric_repository
from experimently.metrics.aggregation import DailyPoint, ExperimentStats, load_snapshot
from experimently.metrics.models import AggregationState, MetricDefinition
from experimently.stats import (
    Engine,
    MetricAnalysis,
    MetricKind,
    MetricRole,
    VariantStats,
    analyze_experiment,
    analyze_metric,
    to_json_dict,
)

NAMESPACE = "results"
KINDS = {
    "binomial": MetricKind.BINOMIAL,
    "count": MetricKind.COUNT,
    "sum": MetricKind.MEAN,
    "mean": MetricKind.MEAN,
    "ratio": MetricKind.RATIO,
}


def _metric_plan(exp: Experiment) -> list[tuple[str, MetricRole]]:
    goals = [exp.primary_metric] if exp.primary_metric else []
    goals += [k for k in exp.secondary_metrics if k not in goals]
    plan = [(str(k), MetricRole.GOAL) for k in goals]
    return plan + [(str(k), MetricRole.GUARDRAIL) for k in exp.guardrail_metrics if k not in goals]


def control_key(exp: Experiment) -> str:
    return next(str(v["key"]) for v in exp.variants if v.get("is_control"))


def arms(exp: Experiment, by_variant: dict[str, VariantStats]) -> list[VariantStats]:
    """Every variant's statistics in the experiment's order (an arm without data: all zeros)."""
    return [by_variant.get(str(v["key"])) or VariantStats(str(v["key"]), 0, 0.0, 0.0) for v in exp.variants]


def _analyze(
    exp: Experiment,
    key: str,
    role: MetricRole,
    metric: MetricDefinition,
    arms: Sequence[VariantStats],
    engine: Engine,
    cuped: bool,
) -> MetricAnalysis:
    return analyze_metric(
        KINDS[metric.kind],
        arms,
        control_key=control_key(exp),
        engine=engine,
        cuped=cuped,
        lower_is_better=metric.direction == "lower",
        metric_key=key,
        role=role,
    )


def _series(
    exp: Experiment, key: str, metric: MetricDefinition, series: dict[str, list[DailyPoint]]
) -> list[Any]:
    """Cumulative lift per day (fixed-horizon frequentist on the cumulative statistics), for charts."""
    days = sorted({p.day for points in series.values() for p in points})
    latest: dict[str, VariantStats] = {}
    out = []
    for day in days:
        for variant, points in series.items():
            for point in points:
                if point.day == day:
                    latest[variant] = point.stats
        analysis = _analyze(exp, key, MetricRole.GOAL, metric, arms(exp, latest), Engine.FREQUENTIST, False)
        out.append(
            {
                "day": day,
                "comparisons": [
                    {
                        "variant": c.variant_key,
                        "relative_lift": c.relative_lift,
                        "relative_interval": c.relative_interval,
                        "absolute_lift": c.absolute_lift,
                        "units": c.treatment.units,
                        "control_units": c.control.units,
                    }
                    for c in analysis.comparisons
                ],
            }
        )
    return out


def _warnings(exp: Experiment, stats: ExperimentStats, srm: dict[str, Any]) -> list[dict[str, Any]]:
    warnings: list[dict[str, Any]] = []
    if srm.get("flagged"):
        warnings.append(
            {
                "code": "SRM",
                "message": "units per variant do not match the configured weights "
                f"(p = {srm.get('p_value')}); results are not trustworthy until the cause is found",
            }
        )
    if stats.multi_variant_units:
        warnings.append(
            {
                "code": "MULTIPLE_EXPOSURES",
                "count": stats.multi_variant_units,
                "message": f"{stats.multi_variant_units} units were exposed to more than one variant",
            }
        )
    total = sum(stats.units.values())
    if total == 0:
        warnings.append({"code": "NO_DATA", "message": "no exposures aggregated yet"})
    elif (
        exp.min_sample_size
        and min(stats.units.get(str(v["key"]), 0) for v in exp.variants) < exp.min_sample_size
    ):
        warnings.append(
            {"code": "LOW_SAMPLE", "message": f"fewer than {exp.min_sample_size} units in a variant"}
        )
    return warnings


async def experiment_results(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    ref: str,
    engine: Engine,
    cuped: bool,
    correction: CorrectionName,
) -> dict[str, Any]:
    exp = await experiments.get(session, actor, ref)
    require_analysis(actor)
    plan = _metric_plan(exp)
    definitions = await metric_repository.by_keys(session, [k for k, _ in plan])
    state = await session.get(AggregationState, exp.key)
    stamp = state.aggregated_at.isoformat() if state and state.aggregated_at else "never"
    versions = ",".join(f"{k}:{getattr(definitions.get(k), 'version', 0)}" for k, _ in plan)
    cache_key = f"{exp.id}:{exp.version}:{versions}:{stamp}:{engine}:{cuped}:{correction}"
    cached = cache.peek(NAMESPACE, cache_key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]  # only result dicts are stored here
    result = await _compute(session, exp, plan, definitions, engine, cuped, correction)
    cache.put_local(NAMESPACE, cache_key, result, ttl=3600)
    return result


async def _compute(
    session: AsyncSession,
    exp: Experiment,
    plan: list[tuple[str, MetricRole]],
    definitions: dict[str, MetricDefinition],
    engine: Engine,
    cuped: bool,
    correction: CorrectionName,
) -> dict[str, Any]:
    stats = await load_snapshot(session, exp.key) or ExperimentStats(exp.key, {}, 0, None)
    analyses, missing = [], []
    for key, role in plan:
        metric = definitions.get(key)
        if metric is None:
            missing.append(key)
            continue
        analyses.append(
            _analyze(exp, key, role, metric, arms(exp, stats.metrics.get(key, {})), engine, cuped)
        )
    weights = {str(v["key"]): float(v["weight"]) for v in exp.variants}
    units = {str(v["key"]): stats.units.get(str(v["key"]), 0) for v in exp.variants}
    combined: dict[str, Any] = to_json_dict(
        analyze_experiment(analyses, weights, correction_of(correction), units=units)
    )
    warnings = _warnings(exp, stats, combined["srm"])
    warnings += [{"code": "METRIC_NOT_FOUND", "message": f"metric '{k}' is not defined"} for k in missing]
    return {
        "experiment": {
            "id": exp.id,
            "key": exp.key,
            "status": exp.status,
            "control": control_key(exp),
            "started_at": exp.started_at.isoformat() if exp.started_at else None,
        },
        "engine": str(engine),
        "cuped": cuped,
        "correction": correction,
        "aggregated_at": stats.aggregated_at.isoformat() if stats.aggregated_at else None,
        "units": units,
        "srm": combined["srm"],
        "warnings": warnings,
        "family_size": combined["family_size"],
        "intervals_adjusted": False,
        "metrics": combined["metrics"],
        "timeseries": {
            k: _series(exp, k, definitions[k], stats.series.get(k, {})) for k, _ in plan if k in definitions
        },
    }
