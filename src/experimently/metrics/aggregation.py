"""Aggregation of events into the sufficient statistics of each running experiment.

What is kept is only the statistics themselves, per (metric, variant, UTC day of first exposure): no
per-unit rows. They are sums over units of functions of one unit's events, so they can be retracted:

- **from scratch**: one computation over every unit (``metrics.repository``: a scratch table of first
  exposures, one join of it to the metrics' events grouped by unit, then by (variant, day));
- **incremental** (each run): the units with events in ``(last_seq, hi]`` are the only ones whose
  contribution can have changed. Their contribution is computed twice from raw events, as of
  ``last_seq`` (what the statistics hold for them) and as of ``hi``; the statistics become
  ``stored - old + new``. A late earlier exposure moves its unit to the right variant and day;
- **retraction** (privacy erasure): a unit's contribution as of ``last_seq`` is subtracted before its
  raw events are deleted.

After any sequence of runs the statistics equal one computation from scratch over the same events
(exactly, for values whose sums are exact in binary floating point; otherwise to rounding). A changed
metric definition or experiment spec (the fingerprint) triggers a computation from scratch.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.db import Database
from experimently.kit.clock import DAY_US, now, to_us
from experimently.metrics import repository
from experimently.metrics.models import AggregationState, MetricDefinition
from experimently.metrics.repository import ALL_UNITS, SUMS, RawSums, Units
from experimently.stats.model import VariantStats

log = structlog.get_logger(__name__)
RUNS = Counter(
    "experimently_aggregation_runs_total",
    "Aggregation runs of one experiment, by mode (full, incremental, idle: no new events)",
    ["mode"],
)
SECONDS = Histogram(
    "experimently_aggregation_seconds",
    "Duration of one experiment's aggregation, by mode",
    ["mode"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# the stored statistics' layout; a state written in another layout is recomputed from scratch
FORMAT = 2
# an incremental run over more new events than this uses the parallel (scratch table) plan
PARALLEL_FROM_EVENTS = 200_000
# An incremental run looks its dirty units up one by one (repository.compute_change) when that costs
# less than two computations over the experiment's exposures and the metrics' events. A looked-up unit
# costs ~40 us plus ~4.5 us per partition with rows that its lookups descend (one index descent each:
# daily partitions, so this grows with the experiment's age); the two computations ~7 us per unit the
# statistics hold. Measured at 1M units (bench/README.md, tenth round): with the events in 39 daily
# partitions with rows, 20,000 dirty units 4.0 s looked up against 5.8 s, 60,000 12.2 s against 5.7 s
# (crossover ~3%); with every event in one partition the crossover was 12-25% (seventh round).
LOOKUP_UNIT_US = 40.0
LOOKUP_PARTITION_US = 4.5
SCAN_UNIT_US = 7.0
# set by tests and bench/aggregation.py: look up when dirty units x LOOKUP_RATIO <= units (0: always,
# a huge number: never); None: the costs above decide
LOOKUP_RATIO: int | None = None


def looks_up(dirty: int, known: int, partitions: int) -> bool:
    """Whether an incremental run looks its ``dirty`` units up one by one, for statistics that hold
    ``known`` units and lookups that descend ``partitions`` partitions each."""
    if LOOKUP_RATIO is not None:
        return dirty * LOOKUP_RATIO <= known
    return dirty * (LOOKUP_UNIT_US + LOOKUP_PARTITION_US * partitions) <= known * SCAN_UNIT_US


@dataclass(frozen=True)
class ExperimentSpec:
    """What one aggregation covers. An experiment reads its ``exposure`` events (``experiment_key`` =
    its key); a guarded flag rollout (``safety.rollouts``) reads ``flag_exposure`` events of one flag
    (``subject``) in one ``environment``, and counts a unit that was served ``prefer`` (the new
    variation) at any point in that group, from its first exposure to it."""

    key: str
    variants: tuple[str, ...]
    metric_keys: tuple[str, ...]
    started_at: datetime | None
    exposure_event: str = "exposure"
    subject: str | None = None
    environment: str | None = None
    prefer: str | None = None
    # a completed experiment's end: exposures and metric events after it are not counted, so runs
    # after the end only bring in events that happened before it and arrived late
    ended_at: datetime | None = None


SpecProvider = Callable[[AsyncSession], Awaitable[list[ExperimentSpec]]]
# called after each aggregation run with the keys whose statistics moved (the guardrail monitors)
AfterAggregation = Callable[[set[str]], Awaitable[object]]


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
    "winsorize_cap",
)


def fingerprint(spec: ExperimentSpec, metrics: list[MetricDefinition]) -> str:
    """Everything the statistics depend on besides the events."""
    shape = {
        "format": FORMAT,
        "variants": sorted(spec.variants),
        "started": spec.started_at.isoformat() if spec.started_at else None,
        **_exposure_json(spec),
        **_end_json(spec),
        "metrics": [{"key": m.key, **{f: getattr(m, f) for f in _SHAPE}} for m in metrics],
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


def _shape(metric: MetricDefinition) -> dict[str, bool]:
    """How a metric's sums read: a mean counts only units with a value; CUPED pre-period; ratio."""
    return {
        "mean": metric.kind == "mean",
        "pre": bool(metric.cuped_pre_window_days) and metric.kind != "ratio",
        "ratio": metric.kind == "ratio",
    }


Key = tuple[str, int]  # (variant, day number since the epoch)


@dataclass(frozen=True, slots=True)
class MetricSums:
    """The sufficient statistics of one metric over a set of units (one (variant, day) bucket, or a
    cumulative total): sums over units of functions of each unit's value, so two sets add and a
    subset subtracts. The field order is the order ``metrics.repository`` computes and stores them."""

    n: float = 0.0  # units counted: exposed units, or for a mean metric the units with a value
    sum: float = 0.0  # of the unit's value (numerator for a ratio)
    sum_squares: float = 0.0
    pre_sum: float = 0.0  # of the pre-exposure value (CUPED)
    pre_sum_squares: float = 0.0
    cross_sum: float = 0.0  # of value x pre-exposure value
    denom_sum: float = 0.0  # of the ratio's denominator
    denom_sum_squares: float = 0.0
    num_denom_cross: float = 0.0  # of numerator x denominator

    @classmethod
    def of(cls, values: Iterable[Any]) -> MetricSums:
        """From the stored or computed sequence (``SUMS`` numbers, in field order)."""
        return cls(*(float(v) for v in values))

    def values(self) -> list[float]:
        return [
            self.n,
            self.sum,
            self.sum_squares,
            self.pre_sum,
            self.pre_sum_squares,
            self.cross_sum,
            self.denom_sum,
            self.denom_sum_squares,
            self.num_denom_cross,
        ]

    def __add__(self, other: MetricSums) -> MetricSums:
        return MetricSums(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def __sub__(self, other: MetricSums) -> MetricSums:
        return MetricSums(*(a - b for a, b in zip(self.values(), other.values(), strict=True)))

    def stats(self, variant: str, shape: dict[str, bool]) -> VariantStats:
        """The statistics engine's input; pre-period and denominator sums only for metrics that have
        them (``shape``)."""
        pre, ratio = shape["pre"], shape["ratio"]
        return VariantStats(
            key=variant,
            n=round(self.n),
            sum=self.sum,
            sum_squares=self.sum_squares,
            pre_sum=self.pre_sum if pre else None,
            pre_sum_squares=self.pre_sum_squares if pre else None,
            cross_sum=self.cross_sum if pre else None,
            denom_sum=self.denom_sum if ratio else None,
            denom_sum_squares=self.denom_sum_squares if ratio else None,
            num_denom_cross=self.num_denom_cross if ratio else None,
        )


ZERO = MetricSums()
assert len(ZERO.values()) == SUMS  # the SQL computes exactly these


@dataclass
class Sums:
    """The stored statistics: per (variant, day) exposed units and multi-variant units, and per
    metric and (variant, day) the ``SUMS`` sums. Addable and retractable."""

    exposures: dict[Key, list[int]] = field(default_factory=dict)
    metrics: dict[str, dict[Key, MetricSums]] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: RawSums, metric_keys: Iterable[str]) -> Sums:
        sums = cls({}, {k: {} for k in metric_keys})
        sums.add(raw, 1)
        return sums

    def add(self, raw: RawSums, sign: int) -> None:
        for variant, day, units, multi in raw.exposures:
            bucket = self.exposures.setdefault((variant, day), [0, 0])
            bucket[0] += sign * units
            bucket[1] += sign * multi
        for key, rows in raw.metrics.items():
            by = self.metrics.setdefault(key, {})
            for variant, day, *values in rows:
                current, change = by.get((variant, day), ZERO), MetricSums.of(values)
                by[(variant, day)] = current + change if sign > 0 else current - change
        self._drop_empty()

    def _drop_empty(self) -> None:
        """Buckets whose units were all retracted (what remains of their sums is rounding)."""
        for k in [k for k, (units, _) in self.exposures.items() if units <= 0]:
            del self.exposures[k]
        for by in self.metrics.values():
            for k in [k for k, sums in by.items() if k not in self.exposures or sums.n < 0.5]:
                del by[k]

    def to_json(self) -> dict[str, Any]:
        return {
            "exposures": [[v, d, *c] for (v, d), c in sorted(self.exposures.items())],
            "metrics": {
                m: [[v, d, *s.values()] for (v, d), s in sorted(by.items())] for m, by in self.metrics.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sums:
        return cls(
            {(str(v), int(d)): [int(u), int(x)] for v, d, u, x in data["exposures"]},
            {
                m: {(str(r[0]), int(r[1])): MetricSums.of(r[2:]) for r in rows}
                for m, rows in data["metrics"].items()
            },
        )


_EXPOSURE_FIELDS = ("exposure_event", "subject", "environment", "prefer")


def _exposure_json(spec: ExperimentSpec) -> dict[str, Any]:
    """The exposure source, when it is not the experiment's own (kept out of older layouts)."""
    if spec.exposure_event == "exposure" and spec.subject is None and spec.prefer is None:
        return {}
    return {f: getattr(spec, f) for f in _EXPOSURE_FIELDS}


def _end_json(spec: ExperimentSpec) -> dict[str, Any]:
    """The end, once there is one (kept out while the experiment runs, so that its statistics' layout
    and fingerprint stay what they were; the first run after the end recomputes them)."""
    return {"ended_at": spec.ended_at.isoformat()} if spec.ended_at else {}


def _spec_json(spec: ExperimentSpec) -> dict[str, Any]:
    return {
        "variants": list(spec.variants),
        "metric_keys": list(spec.metric_keys),
        "started_at": spec.started_at.isoformat() if spec.started_at else None,
        **_exposure_json(spec),
        **_end_json(spec),
    }


def _spec_of(key: str, data: dict[str, Any]) -> ExperimentSpec:
    started, ended = data.get("started_at"), data.get("ended_at")
    return ExperimentSpec(
        key,
        tuple(data["variants"]),
        tuple(data["metric_keys"]),
        datetime.fromisoformat(started) if started else None,
        **{f: data[f] for f in _EXPOSURE_FIELDS if f in data},
        ended_at=datetime.fromisoformat(ended) if ended else None,
    )


def _snapshot(spec: ExperimentSpec, metrics: list[MetricDefinition], sums: Sums) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "spec": _spec_json(spec),
        "shapes": {m.key: _shape(m) for m in metrics},
        **sums.to_json(),
    }


def _stored(state: AggregationState | None) -> dict[str, Any] | None:
    data = state.snapshot if state is not None else None
    return data if data and data.get("format") == FORMAT else None


async def _metrics_of(session: AsyncSession, spec: ExperimentSpec) -> list[MetricDefinition]:
    found = await repository.by_keys(session, spec.metric_keys)
    return [found[k] for k in sorted(set(spec.metric_keys)) if k in found]


def _params(spec: ExperimentSpec, metrics: Sequence[MetricDefinition]) -> dict[str, Any]:
    names = sorted({m.event_name for m in metrics} | {m.denominator_event or m.event_name for m in metrics})
    params = {
        "exp": spec.subject or spec.key,
        "exposure_name": spec.exposure_event,
        "day": DAY_US,
        "start": to_us(spec.started_at) if spec.started_at else -(2**62),
        "end": to_us(spec.ended_at) if spec.ended_at else 2**62,
        "variants": list(spec.variants) or [""],
        "names": names or [""],
    }
    if spec.environment is not None:
        params["env"] = spec.environment
    if spec.prefer is not None:
        params["prefer"] = spec.prefer
    return params


async def _compute(
    session: AsyncSession,
    spec: ExperimentSpec,
    metrics: Sequence[MetricDefinition],
    upto: int,
    units: Units,
    *,
    parallel: bool,
) -> RawSums:
    params = _params(spec, metrics) | {"upto": upto}
    return await repository.compute_sums(session, params, metrics, units, parallel=parallel)


async def aggregate_experiment(session: AsyncSession, spec: ExperimentSpec, *, full: bool = False) -> int:
    """Bring one experiment's statistics up to the newest committed event; returns the watermark.

    Writers commit ``seq`` values in increasing order (events.repository.lock_writers), so every event
    with ``seq <= hi`` is committed when ``hi`` is read and none can appear below it later."""
    began = time.perf_counter()
    metrics = await _metrics_of(session, spec)
    mark = fingerprint(spec, metrics)
    state = await repository.state_for_update(session, spec.key)
    if state is None:
        state = AggregationState(experiment_key=spec.key, last_seq=0, fingerprint="")
        session.add(state)
    # what the statistics hold, unless they must be computed from scratch
    stored = None if full or state.fingerprint != mark else _stored(state)
    hi = await repository.newest_seq(session)
    await repository.tune(session)
    lo = 0 if stored is None else state.last_seq
    mode = "full" if stored is None else "incremental" if hi > lo else "idle"
    if stored is None:
        raw = await _compute(session, spec, metrics, hi, ALL_UNITS, parallel=True)
        sums = Sums.of(raw, [m.key for m in metrics])
    else:
        sums = Sums.from_json(stored)
        if hi > lo:
            params = _params(spec, metrics) | {"upto": hi}
            table, count = await repository.dirty_units(session, params, lo, hi)
            known = sum(units for units, _ in sums.exposures.values())
            partitions = await repository.probed_partitions(session, params, metrics)
            dirty = Units(table=table, lookup=looks_up(count, known, partitions))
            parallel = hi - lo > PARALLEL_FROM_EVENTS
            new, old = await repository.compute_change(session, params, metrics, dirty, lo, parallel=parallel)
            sums.add(new, 1)
            sums.add(old, -1)
            await repository.drop(session, table)
    state.last_seq, state.fingerprint, state.aggregated_at = hi, mark, now()
    state.snapshot = _snapshot(spec, metrics, sums)
    seconds = time.perf_counter() - began
    RUNS.labels(mode).inc()
    SECONDS.labels(mode).observe(seconds)
    if mode != "idle":
        log.info(
            "metrics.aggregated",
            experiment=spec.key,
            mode=mode,
            watermark=hi,
            new_events=hi - lo,
            units=sum(u for u, _ in sums.exposures.values()),
            seconds=round(seconds, 3),
        )
    return hi


async def recompute_from_scratch(session: AsyncSession, spec: ExperimentSpec) -> int:
    """Throw the experiment's statistics away and compute them again from every raw event."""
    return await aggregate_experiment(session, spec, full=True)


async def run_aggregation(
    db: Database, provider: SpecProvider | None, after: AfterAggregation | None = None
) -> int:
    """The ``metrics.aggregate`` job: every experiment ``provider`` names, one transaction each; then
    ``after`` (the guardrail checks) on the keys whose statistics moved."""
    if provider is None:
        return 0
    async with db.transaction() as session:
        specs = await provider(session)
    touched: set[str] = set()
    for spec in specs:
        async with db.transaction() as session:
            before = await repository.watermark(session, spec.key)
            if await aggregate_experiment(session, spec) != before:
                touched.add(spec.key)
    # the guardrail checks (experiments and flag rollouts) run right after, on what moved
    if after is not None and touched:
        try:
            await after(touched)
        except Exception as exc:  # a failed check must not fail the aggregation; the next run retries
            log.exception("metrics.after_aggregation_failed", error=repr(exc))
    return len(specs)


async def _current(
    session: AsyncSession, state: AggregationState
) -> tuple[ExperimentSpec, list[MetricDefinition], dict[str, Any]] | None:
    """The spec, metrics and stored statistics of a state that the next run would keep (None when
    its definitions changed since: that run recomputes from scratch anyway)."""
    stored = _stored(state)
    if stored is None:
        return None
    spec = _spec_of(state.experiment_key, stored["spec"])
    metrics = await _metrics_of(session, spec)
    return (spec, metrics, stored) if fingerprint(spec, metrics) == state.fingerprint else None


async def _contributions(
    session: AsyncSession, unit_id: str, *, lock: bool
) -> AsyncIterator[tuple[AggregationState, ExperimentSpec, list[MetricDefinition], dict[str, Any], RawSums]]:
    """Per experiment whose stored statistics the next run would keep, the unit's contribution to
    them (as of the state's watermark), computed from its raw events."""
    for state in await repository.states(session, lock=lock):
        current = await _current(session, state)
        if current is None:
            continue
        spec, metrics, stored = current
        raw = await _compute(session, spec, metrics, state.last_seq, Units(ids=(unit_id,)), parallel=False)
        if raw.exposures:
            yield state, spec, metrics, stored, raw


async def unit_contributions(session: AsyncSession, unit_id: str) -> list[dict[str, Any]]:
    """What the stored statistics hold of one unit, per experiment: variant, day of first exposure
    and each metric's value, pre-period value and denominator (the privacy export)."""
    out: list[dict[str, Any]] = []
    async for _, spec, _, _, raw in _contributions(session, unit_id, lock=False):
        [(variant, day, _units, multi)] = raw.exposures  # one unit: one first exposure
        out.append(
            {
                "experiment_key": spec.key,
                "variant": variant,
                "first_exposure_day": _label(day),
                "multi_variant": bool(multi),
                "metrics": {
                    k: {"value": own.sum, "pre_value": own.pre_sum, "denominator": own.denom_sum}
                    for k, rows in raw.metrics.items()
                    if rows
                    for own in [MetricSums.of(rows[0][2:])]
                },
            }
        )
    return out


async def retract_unit(session: AsyncSession, unit_id: str) -> int:
    """Take one unit out of every experiment's statistics (before its raw events are erased); returns
    the number of experiments whose statistics held it."""
    retracted = 0
    async for state, spec, metrics, stored, raw in _contributions(session, unit_id, lock=True):
        sums = Sums.from_json(stored)
        sums.add(raw, -1)
        state.snapshot = _snapshot(spec, metrics, sums)
        retracted += 1
    return retracted


def _label(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()


def stats_of(experiment_key: str, data: dict[str, Any], aggregated_at: datetime | None) -> ExperimentStats:
    """``ExperimentStats`` from stored statistics: totals per variant, and per metric and variant the
    cumulative statistics of the units first exposed by each day (a variant's totals are its last
    point). ``n`` is the exposed units, except for a mean metric: the units with a value."""
    sums = Sums.from_json(data)
    units: dict[str, int] = {}
    multi = 0
    for (variant, _), (count, m) in sums.exposures.items():
        units[variant] = units.get(variant, 0) + count
        multi += m
    metrics: dict[str, dict[str, VariantStats]] = {}
    series: dict[str, dict[str, list[DailyPoint]]] = {}
    for key in sorted(sums.metrics):
        shape = data["shapes"].get(key, {"mean": False, "pre": False, "ratio": False})
        by = sums.metrics[key]
        metrics[key], series[key] = {}, {}
        for variant in sorted(units):
            total = ZERO
            points: list[DailyPoint] = []
            for day in sorted({d for v, d in sums.exposures if v == variant}):
                bucket = by.get((variant, day), ZERO)
                if not shape["mean"]:  # n counts every exposed unit, not only those with a value
                    bucket = replace(bucket, n=float(sums.exposures[(variant, day)][0]))
                total = total + bucket
                if total.n >= 0.5:
                    points.append(DailyPoint(_label(day), total.stats(variant, shape)))
            if points:
                series[key][variant] = points
                metrics[key][variant] = points[-1].stats
    return ExperimentStats(experiment_key, units, multi, aggregated_at, metrics, series)


async def load_snapshot(session: AsyncSession, experiment_key: str) -> ExperimentStats | None:
    """The statistics stored by the last aggregation run (None before the first run)."""
    state = await repository.state(session, experiment_key)
    data = _stored(state)
    if state is None or data is None:
        return None
    return stats_of(experiment_key, data, state.aggregated_at)
