"""Aggregation of events into the sufficient statistics of each running experiment.

Incremental and exact: each run reads the events committed since the experiment's watermark
(``seq`` in ``(last_seq, hi]``), recomputes from raw events the per-unit rows of exactly the units
those events touch, and moves the watermark to ``hi``. A unit's row is a function of its own events
only, so after any sequence of runs the per-unit table equals one recompute from scratch (a changed
metric definition or experiment spec triggers that recompute). Statistics are a GROUP BY over it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.db import Database
from experimently.events.models import Event
from experimently.events.validation import to_us
from experimently.kit.clock import now
from experimently.metrics import repository
from experimently.metrics.aggregation_sql import (
    DAY_US,
    EXPOSURE,
    METRIC_KEYS,
    delete_units,
    insert_exposures,
    insert_metrics,
    stats_query,
)
from experimently.metrics.models import AggregationState, MetricDefinition
from experimently.stats.model import VariantStats

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ExperimentSpec:
    key: str
    variants: tuple[str, ...]
    metric_keys: tuple[str, ...]
    started_at: datetime | None


SpecProvider = Callable[[AsyncSession], Awaitable[list[ExperimentSpec]]]


@dataclass(frozen=True)
class DailyPoint:
    """Cumulative statistics of the units first exposed on or before ``day``."""

    day: str
    stats: VariantStats


@dataclass(frozen=True)
class ExperimentStats:
    experiment_key: str
    units: dict[str, int]
    multi_variant_units: int
    aggregated_at: datetime | None
    metrics: dict[str, dict[str, VariantStats]] = field(default_factory=dict)
    series: dict[str, dict[str, list[DailyPoint]]] = field(default_factory=dict)


_SHAPE = (
    "kind",
    "event_name",
    "numerator_aggregation",
    "denominator_event",
    "denominator_aggregation",
    "conditions",
    "attribution_window_hours",
    "cuped_pre_window_days",
)


def fingerprint(spec: ExperimentSpec, metrics: list[MetricDefinition]) -> str:
    """Everything a per-unit row depends on besides the events (the cap is applied at read time)."""
    shape = {
        "variants": sorted(spec.variants),
        "started": spec.started_at.isoformat() if spec.started_at else None,
        "metrics": [{"key": m.key, **{f: getattr(m, f) for f in _SHAPE}} for m in metrics],
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


async def _metrics_of(session: AsyncSession, spec: ExperimentSpec) -> list[MetricDefinition]:
    found = await repository.by_keys(session, spec.metric_keys)
    return [found[k] for k in sorted(set(spec.metric_keys)) if k in found]


async def aggregate_experiment(session: AsyncSession, spec: ExperimentSpec, *, full: bool = False) -> int:
    """Bring one experiment's per-unit rows up to the newest committed event; returns the watermark."""
    metrics = await _metrics_of(session, spec)
    mark = fingerprint(spec, metrics)
    state = await session.get(AggregationState, spec.key, with_for_update=True)
    if state is None:
        state = AggregationState(experiment_key=spec.key, last_seq=0, fingerprint="")
        session.add(state)
    full = full or state.fingerprint != mark
    hi = int(await session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)
    if full or hi > state.last_seq:
        names = sorted(
            {m.event_name for m in metrics} | {m.denominator_event or m.event_name for m in metrics}
        )
        params: dict[str, Any] = {
            "exp": spec.key,
            "lo": 0 if full else state.last_seq,
            "hi": hi,
            "day": DAY_US,
            "start": to_us(spec.started_at) if spec.started_at else -(2**62),
            "variants": list(spec.variants) or [""],
            "names": names or [""],
        }
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SET LOCAL work_mem = '256MB'"))  # sorts and hashes in memory
            # JIT compiles the wide conditional aggregates of every partition's scan afresh each run
            # (1-2 s at 10M events) and buys nothing on plans that are hashing bound
            await session.execute(text("SET LOCAL jit = off"))
        await delete_units(session, params, full)
        await insert_exposures(session, params, full)
        if session.get_bind().dialect.name == "postgresql":
            # fresh statistics for the rows just written: without them the planner believes the exposure
            # set is tiny and picks nested loops over every partition of events (minutes instead of seconds)
            await session.execute(text("ANALYZE metric_units"))
        await insert_metrics(session, metrics, params, full)
    state.last_seq, state.fingerprint, state.aggregated_at = hi, mark, now()
    state.snapshot = snapshot_of(await load_stats(session, spec.key, state=state))
    return hi


async def recompute_from_scratch(session: AsyncSession, spec: ExperimentSpec) -> int:
    """Throw the experiment's per-unit rows away and rebuild them from every raw event."""
    return await aggregate_experiment(session, spec, full=True)


async def run_aggregation(db: Database, services: dict[str, Any]) -> int:
    """The ``metrics.aggregate`` job: every running experiment, one transaction each."""
    provider: SpecProvider | None = services.get("experiments.specs")
    if provider is None:
        return 0
    async with db.transaction() as session:
        specs = await provider(session)
    for spec in specs:
        async with db.transaction() as session:
            await aggregate_experiment(session, spec)
    return len(specs)


def _variant_stats(key: str, row: Any, *, pre: bool, ratio: bool) -> VariantStats:
    def num(value: Any) -> float:
        return float(value or 0)

    return VariantStats(
        key=key,
        n=int(row[0]),
        sum=num(row[1]),
        sum_squares=num(row[2]),
        pre_sum=num(row[3]) if pre else None,
        pre_sum_squares=num(row[4]) if pre else None,
        cross_sum=num(row[5]) if pre else None,
        denom_sum=num(row[6]) if ratio else None,
        denom_sum_squares=num(row[7]) if ratio else None,
        num_denom_cross=num(row[8]) if ratio else None,
    )


def _add(a: VariantStats, b: VariantStats) -> VariantStats:
    def plus(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x + y

    return VariantStats(
        a.key,
        a.n + b.n,
        a.sum + b.sum,
        a.sum_squares + b.sum_squares,
        plus(a.pre_sum, b.pre_sum),
        plus(a.pre_sum_squares, b.pre_sum_squares),
        plus(a.cross_sum, b.cross_sum),
        plus(a.denom_sum, b.denom_sum),
        plus(a.denom_sum_squares, b.denom_sum_squares),
        plus(a.num_denom_cross, b.num_denom_cross),
    )


def _cap(metric: MetricDefinition | None) -> float | None:
    if metric is None or metric.kind == "binomial":
        return None
    return metric.winsorize_cap


def _shape(metric: MetricDefinition | None) -> tuple[bool, bool]:
    """(has a CUPED pre-period, is a ratio)."""
    pre = bool(metric and metric.cuped_pre_window_days and metric.kind != "ratio")
    return pre, bool(metric and metric.kind == "ratio")


def snapshot_of(stats: ExperimentStats) -> dict[str, Any]:
    """``ExperimentStats`` as JSON, stored with the aggregation state."""
    return {
        "units": stats.units,
        "multi_variant_units": stats.multi_variant_units,
        "aggregated_at": stats.aggregated_at.isoformat() if stats.aggregated_at else None,
        "metrics": {m: {v: asdict(vs) for v, vs in by.items()} for m, by in stats.metrics.items()},
        "series": {
            m: {v: [{"day": p.day, "stats": asdict(p.stats)} for p in points] for v, points in by.items()}
            for m, by in stats.series.items()
        },
    }


async def load_snapshot(session: AsyncSession, experiment_key: str) -> ExperimentStats | None:
    """The statistics stored by the last aggregation run (None before the first run)."""
    state = await session.get(AggregationState, experiment_key)
    data = state.snapshot if state is not None else None
    if not data:
        return None
    at = data.get("aggregated_at")
    return ExperimentStats(
        experiment_key,
        {str(k): int(v) for k, v in data["units"].items()},
        int(data["multi_variant_units"]),
        datetime.fromisoformat(at) if at else None,
        {m: {v: VariantStats(**vs) for v, vs in by.items()} for m, by in data["metrics"].items()},
        {
            m: {
                v: [DailyPoint(p["day"], VariantStats(**p["stats"])) for p in points]
                for v, points in by.items()
            }
            for m, by in data["series"].items()
        },
    )


async def load_stats(
    session: AsyncSession, experiment_key: str, *, state: AggregationState | None = None
) -> ExperimentStats:
    """Per metric and variant, the sufficient statistics (``VariantStats``), units per variant, the
    units seen in more than one variant, the last aggregation time, and cumulative daily series.

    One GROUP BY (metric, variant, exposure day) over the experiment's rows; a variant's totals are
    its last cumulative daily point."""
    params: dict[str, Any] = {"exp": experiment_key}
    keys = [k for k in (await session.scalars(text(METRIC_KEYS), params)).all() if k != EXPOSURE]
    definitions = await repository.by_keys(session, keys)
    caps = {k: float(c) for k in definitions if (c := _cap(definitions[k])) is not None}
    if state is None:
        state = await session.get(AggregationState, experiment_key)
    units: dict[str, int] = {}
    multi = 0
    metrics: dict[str, dict[str, VariantStats]] = {k: {} for k in sorted(keys)}
    series: dict[str, dict[str, list[DailyPoint]]] = {k: {} for k in sorted(keys)}
    query = stats_query(caps, params)
    for row in await session.execute(text(query), params):
        key, variant, day = str(row[0]), str(row[1]), int(row[2])
        if key == EXPOSURE:
            units[variant] = units.get(variant, 0) + int(row[3])
            multi += int(row[4] or 0)
            continue
        pre, ratio = _shape(definitions.get(key))
        point = _variant_stats(variant, row[3:], pre=pre, ratio=ratio)
        points = series.setdefault(key, {}).setdefault(variant, [])
        if points:
            point = _add(points[-1].stats, point)
        label = datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()
        points.append(DailyPoint(label, point))
        metrics.setdefault(key, {})[variant] = point
    at = state.aggregated_at if state else None
    return ExperimentStats(experiment_key, units, multi, at, metrics, series)
