"""``GET /experiments/{id}/results``: the experiment's aggregates run through the statistics engine.

Served from the aggregates (never raw events), cached in L1 under a key that includes the time of the
last aggregation, so a result is recomputed exactly when new aggregates land (or the experiment or a
metric definition changes)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.analysis import presentation
from experimently.analysis.schemas import ANALYSED_AS, CorrectionName
from experimently.analysis.service import correction_of, require_analysis
from experimently.cache import Cache
from experimently.db import Database
from experimently.errors import Conflict
from experimently.experiments import service as experiments
from experimently.experiments.integration import aggregated, settled_at, spec_of
from experimently.experiments.models import Experiment
from experimently.jobs.models import JobLease
from experimently.kit.clock import iso, now
from experimently.metrics import repository as metric_repository
from experimently.metrics.aggregation import (
    AfterAggregation,
    DailyPoint,
    ExperimentStats,
    SpecProvider,
    load_snapshot,
    recompute_from_scratch,
    run_aggregation,
)
from experimently.metrics.models import AggregationState, MetricDefinition
from experimently.metrics.schemas import effective_format
from experimently.privacy import PrivacyProvider
from experimently.rbac import Permission, require
from experimently.stats import (
    Engine,
    MetricAnalysis,
    MetricRole,
    VariantStats,
    analyze_experiment,
    analyze_metric,
    to_json_dict,
)

NAMESPACE = "results"
AGGREGATION_JOB = "metrics.aggregate"
INTERVAL_LEVEL_ALPHA = 0.05  # the results endpoint analyses at alpha 0.05: 95% intervals


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
    thresholds: tuple[float, float] = (presentation.DEFAULT_WIN, presentation.DEFAULT_LOSE),
) -> MetricAnalysis:
    return analyze_metric(
        ANALYSED_AS[metric.kind],
        arms,
        control_key=control_key(exp),
        engine=engine,
        alpha=INTERVAL_LEVEL_ALPHA,
        cuped=cuped,
        lower_is_better=metric.direction == "lower",
        metric_key=key,
        role=role,
        win_threshold=thresholds[0],
        lose_threshold=thresholds[1],
    )


def _series(
    exp: Experiment, key: str, metric: MetricDefinition, series: dict[str, list[DailyPoint]], cuped: bool
) -> list[Any]:
    """Cumulative lift per day (fixed-horizon frequentist on the cumulative statistics), for charts;
    CUPED-adjusted when the table is, so the last point is the table's estimate."""
    days = sorted({p.day for points in series.values() for p in points})
    latest: dict[str, VariantStats] = {}
    out = []
    for day in days:
        for variant, points in series.items():
            for point in points:
                if point.day == day:
                    latest[variant] = point.stats
        analysis = _analyze(exp, key, MetricRole.GOAL, metric, arms(exp, latest), Engine.FREQUENTIST, cuped)
        out.append(
            {
                "day": day,
                "comparisons": [
                    {
                        "variant": c.variant_key,
                        "relative_lift": c.relative_lift,
                        "relative_interval": to_json_dict(c.relative_interval)
                        if c.relative_interval
                        else None,
                        "absolute_lift": c.absolute_lift,
                        "units": c.treatment.units,
                        "control_units": c.control.units,
                    }
                    for c in analysis.comparisons
                ],
            }
        )
    return out


@dataclass(frozen=True)
class Schedule:
    """When the aggregation job last ran (any instance) and when it is next due."""

    interval_seconds: float
    last_run_at: datetime | None

    @property
    def next_at(self) -> datetime | None:
        """The last run plus the interval; now when that moment has passed (the run is due); None
        when the job has never run (it runs as soon as a server or worker starts)."""
        if self.last_run_at is None:
            return None
        return max(self.last_run_at + timedelta(seconds=self.interval_seconds), now())

    def meta(self, aggregated_at: str | None, exp: Experiment) -> dict[str, Any]:
        covered = aggregated(exp)
        upcoming = self.next_at if covered else None
        settles = settled_at(exp)
        return {
            "aggregated_at": aggregated_at,
            "next_aggregation_at": iso(upcoming) if upcoming else None,
            "aggregation_interval_seconds": round(self.interval_seconds),
            "aggregating": covered,
            "ended_at": iso(exp.ended_at) if exp.status == "completed" and exp.ended_at else None,
            "final_after": iso(settles) if settles else None,
            "intervals_adjusted": False,
        }


async def aggregation_schedule(session: AsyncSession, interval_seconds: float) -> Schedule:
    lease = await session.get(JobLease, AGGREGATION_JOB)
    return Schedule(interval_seconds, lease.last_run_at if lease else None)


def _no_data(exp: Experiment, schedule: Schedule) -> dict[str, Any]:
    every = f"every {round(schedule.interval_seconds)} s"
    if not aggregated(exp):
        covers = "running and paused experiments, and completed ones for an hour after their end"
        message = (
            f"no exposures aggregated: the experiment is {exp.status}; aggregation ({every}) covers {covers}"
        )
        if exp.status == "completed":
            message += (
                f"; aggregate its events up to the end with POST /api/v1/experiments/{exp.key}/aggregate"
            )
        return {"code": "NO_DATA", "message": message, "next_aggregation_at": None}
    upcoming = schedule.next_at
    when = f"the next run is due at {iso(upcoming)}" if upcoming else "the first run is due"
    message = (
        f"no exposures aggregated yet: aggregation runs {every} and {when}; "
        f"run it now with POST /api/v1/experiments/{exp.key}/aggregate"
    )
    return {
        "code": "NO_DATA",
        "message": message,
        "next_aggregation_at": iso(upcoming) if upcoming else None,
    }


def _srm_p(value: Any) -> str:
    """The SRM test's p-value as a person reads it (``1.7e-05``, ``< 1e-10``), not 17 digits."""
    if not isinstance(value, int | float):
        return "unknown"
    return "< 1e-10" if value < 1e-10 else f"{value:.2g}"


def _warnings(
    exp: Experiment, stats: ExperimentStats, srm: dict[str, Any], schedule: Schedule | None = None
) -> list[dict[str, Any]]:
    schedule = schedule or Schedule(60.0, None)
    warnings: list[dict[str, Any]] = []
    if srm.get("flagged"):
        warnings.append(
            {
                "code": "SRM",
                "message": "units per variant do not match the configured weights "
                f"(p = {_srm_p(srm.get('p_value'))}); results are not trustworthy until the cause is found",
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
        warnings.append(_no_data(exp, schedule))
    elif (
        exp.min_sample_size
        and min(stats.units.get(str(v["key"]), 0) for v in exp.variants) < exp.min_sample_size
    ):
        warnings.append(
            {"code": "LOW_SAMPLE", "message": f"fewer than {exp.min_sample_size:,} units in a variant"}
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
    *,
    thresholds: tuple[float, float] = (presentation.DEFAULT_WIN, presentation.DEFAULT_LOSE),
    interval_seconds: float = 60.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The results and their ``meta`` (aggregation times)."""
    exp = await experiments.get(session, actor, ref)
    require_analysis(actor)
    plan = _metric_plan(exp)
    definitions = await metric_repository.by_keys(session, [k for k, _ in plan])
    state = await session.get(AggregationState, exp.key)
    schedule = await aggregation_schedule(session, interval_seconds)
    stamp = state.aggregated_at.isoformat() if state and state.aggregated_at else "never"
    versions = ",".join(f"{k}:{getattr(definitions.get(k), 'version', 0)}" for k, _ in plan)
    used = thresholds if engine is Engine.BAYESIAN else None
    cache_key = f"{exp.id}:{exp.version}:{versions}:{stamp}:{engine}:{cuped}:{correction}:{used}"
    cached = cache.peek(NAMESPACE, cache_key)
    if cached is None or exp.status != cached["experiment"]["status"]:
        cached = await _compute(session, exp, plan, definitions, engine, cuped, correction, used, schedule)
        cache.put_local(NAMESPACE, cache_key, cached, ttl=3600)
    if not cached["units"] or sum(cached["units"].values()) == 0:  # NO_DATA names the next run
        cached = cached | {
            "warnings": [_no_data(exp, schedule) if w["code"] == "NO_DATA" else w for w in cached["warnings"]]
        }
    return cached, schedule.meta(cached["aggregated_at"], exp)


async def _compute(
    session: AsyncSession,
    exp: Experiment,
    plan: list[tuple[str, MetricRole]],
    definitions: dict[str, MetricDefinition],
    engine: Engine,
    cuped: bool,
    correction: CorrectionName,
    thresholds: tuple[float, float] | None,
    schedule: Schedule,
) -> dict[str, Any]:
    stats = await load_snapshot(session, exp.key) or ExperimentStats(exp.key, {}, 0, None)
    analyses, missing = [], []
    used = thresholds or (presentation.DEFAULT_WIN, presentation.DEFAULT_LOSE)
    for key, role in plan:
        metric = definitions.get(key)
        if metric is None:
            missing.append(key)
            continue
        analyses.append(
            _analyze(exp, key, role, metric, arms(exp, stats.metrics.get(key, {})), engine, cuped, used)
        )
    weights = {str(v["key"]): float(v["weight"]) for v in exp.variants}
    units = {str(v["key"]): stats.units.get(str(v["key"]), 0) for v in exp.variants}
    combined: dict[str, Any] = to_json_dict(
        analyze_experiment(analyses, weights, correction_of(correction), units=units)
    )
    srm = combined["srm"] | {"weights": weights, "weights_source": "experiment"}
    warnings = _warnings(exp, stats, srm, schedule)
    warnings += [{"code": "METRIC_NOT_FOUND", "message": f"metric '{k}' is not defined"} for k in missing]
    level = 1.0 - INTERVAL_LEVEL_ALPHA
    threshold_echo = {"win": used[0], "lose": used[1]} if engine is Engine.BAYESIAN else None
    for analysis in combined["metrics"]:
        metric = definitions[analysis["metric_key"]]
        fmt = effective_format(metric.kind, metric.format)
        analysis["kind"] = metric.kind
        analysis["metric"] = presentation.metric_block(
            metric.key, metric.name, metric.kind, metric.direction, fmt
        )
        presentation.annotate_comparisons(
            analysis, engine=str(engine), level=level, thresholds=threshold_echo
        )
        analysis["summary"] = presentation.summary(
            analysis,
            name=metric.name,
            kind=metric.kind,
            fmt=fmt,
            engine=str(engine),
            level=level,
            correction=correction,
            cuped=cuped,
            thresholds=threshold_echo,
            unserved=frozenset(str(v["key"]) for v in exp.variants if not float(v.get("weight") or 0) > 0),
            pre_window=bool(metric.cuped_pre_window_days),
        )
    return {
        "experiment": {
            "id": exp.id,
            "key": exp.key,
            "status": exp.status,
            "control": control_key(exp),
            "started_at": iso(exp.started_at) if exp.started_at else None,
        },
        "engine": str(engine),
        "cuped": cuped,
        "correction": presentation.applied_correction(correction, str(engine)),
        "aggregated_at": iso(stats.aggregated_at) if stats.aggregated_at else None,
        "units": units,
        "srm": srm,
        "warnings": warnings,
        "family_size": combined["family_size"],
        "intervals_adjusted": False,
        "interval_level": level,
        "thresholds": threshold_echo,
        "correction_detail": presentation.correction_detail(
            correction, int(combined["family_size"]), str(engine)
        ),
        "metrics": combined["metrics"],
        "timeseries": {
            k: _series(exp, k, definitions[k], stats.series.get(k, {}), cuped)
            for k, _ in plan
            if k in definitions
        },
    }


# how long "aggregate now" waits for the events accepted before it to be written
SETTLE_SECONDS = 5.0
Settle = Callable[[float], Awaitable[int | None]]


async def aggregate_now(
    db: Database,
    cache: Cache,
    actor: Actor,
    ref: str,
    specs: SpecProvider | None,
    after: AfterAggregation | None,
    *,
    full: bool = False,
    settle: Settle | None = None,
) -> dict[str, Any]:
    """Run the aggregation of one experiment now (as the job does, then its guardrail checks);
    audited. Running, paused and completed experiments are aggregated (a completed one up to its end:
    events that happened before it and arrived late); drafts, scheduled and archived ones are a 409.
    ``full`` recomputes from every raw event instead of incrementally.

    ``settle`` (the event pipeline's, given by the API): first wait, at most :data:`SETTLE_SECONDS`,
    for the events accepted before the call to be written, so that "aggregate now" counts what a
    client has just sent (an SDK's ``flush`` returns once the server has accepted its events, not
    once they are stored). ``events_waiting`` in the answer: 0 when they were, otherwise how many
    events the queue still held (``None``: it could not be read)."""
    async with db.transaction() as session:
        exp = await experiments.get(session, actor, ref)
        require(actor, Permission.EXPERIMENTS_WRITE, owner_id=exp.owner_id)
        if exp.status not in ("running", "paused", "completed"):
            hint = (
                "start it first"
                if exp.status in ("draft", "scheduled")
                else "its statistics are kept as they were"
            )
            raise Conflict(
                f"experiment '{exp.key}' is {exp.status}: only running, paused and completed experiments "
                f"are aggregated ({hint})",
                details={"status": exp.status},
            )
        key, spec = exp.key, spec_of(exp)

    async def only_this(session: AsyncSession) -> list[Any]:
        return [spec]

    began = time.perf_counter()
    waiting = await settle(SETTLE_SECONDS) if settle is not None else 0
    if full:
        async with db.transaction() as session:
            for spec in await only_this(session):
                await recompute_from_scratch(session, spec)
        if after is not None:
            await after({key})
    else:
        await run_aggregation(db, only_this, after)
    duration_ms = (time.perf_counter() - began) * 1000.0
    async with db.transaction() as session:
        state = await session.get(AggregationState, key)
        aggregated_at = iso(state.aggregated_at) if state and state.aggregated_at else None
        audit.record(
            session,
            actor,
            "experiment.aggregated",
            "experiment",
            exp.id,
            after={
                "aggregated_at": aggregated_at,
                "duration_ms": round(duration_ms, 1),
                "full": full,
                "events_waiting": waiting,
            },
        )
    await cache.invalidate(NAMESPACE)
    return {
        "experiment_key": key,
        "aggregated_at": aggregated_at,
        "duration_ms": duration_ms,
        "events_waiting": waiting,
    }


def refreshing_results(provider: PrivacyProvider, cache: Cache) -> PrivacyProvider:
    """``provider`` (the statistics retraction) that also drops every cached result once the erasure
    commits, so the results endpoint serves the post-erasure numbers at once (on every instance)."""

    async def erase(session: AsyncSession, unit_id: str) -> int:
        retracted = await provider.erase(session, unit_id)
        if retracted:
            cache.invalidate_on_commit(session, NAMESPACE)
        return retracted

    return PrivacyProvider(provider.name, provider.export, erase, order=provider.order)
