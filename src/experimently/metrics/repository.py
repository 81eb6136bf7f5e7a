"""All SQL of the metrics domain: metric definitions, the per-metric daily series, and the
aggregation's reads and writes (the statistics' state, the newest event, and the computation below).

The aggregation goes from raw events straight to sufficient statistics per (variant, day of first
exposure), with no per-unit rows kept. Text SQL; the same statements run on SQLite and PostgreSQL
except for the kind of scratch table.

One computation is two statements over a scratch table of first exposures:

1. ``CREATE ... TABLE <scratch> AS``: per unit, the first exposure (time; variant, ties broken by
   variant then event id) and whether it saw more than one variant, from the experiment's exposure
   events up to a sequence number, optionally for a subset of units;
2. exposure counts per (variant, day) from the scratch table, and every metric's sums per (variant,
   day) from ONE join of the scratch table to the events of the metrics' event names, grouped by unit
   (each metric's numerator, CUPED pre-period and denominator a conditional aggregate, ``FILTER``),
   then by (variant, day).

On PostgreSQL the scratch table of a full computation is UNLOGGED (a regular table created in the
transaction, so it vanishes on rollback) rather than TEMP because parallel workers cannot read
temporary tables: the join and group by of ~10M events then runs on every core.
"""

# ruff: noqa: S608  (SQL text is assembled from constants and compiled conditions; every value is bound)

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.events.models import Event
from experimently.events.repository import populated_partitions
from experimently.kit.clock import DAY_US, from_us, now
from experimently.metrics.conditions import compile_conditions
from experimently.metrics.models import AggregationState, MetricDefinition


async def get(session: AsyncSession, key: str) -> MetricDefinition | None:
    return await session.scalar(select(MetricDefinition).where(MetricDefinition.key == key))


async def by_keys(session: AsyncSession, keys: Sequence[str]) -> dict[str, MetricDefinition]:
    rows = await session.scalars(select(MetricDefinition).where(MetricDefinition.key.in_(list(keys))))
    return {m.key: m for m in rows}


async def page(session: AsyncSession, limit: int, offset: int) -> tuple[Sequence[MetricDefinition], int]:
    total = int(await session.scalar(select(func.count()).select_from(MetricDefinition)) or 0)
    query = select(MetricDefinition).order_by(MetricDefinition.key).limit(limit).offset(offset)
    return (await session.scalars(query)).all(), total


async def daily_series(
    session: AsyncSession, metric: MetricDefinition, since_us: int
) -> list[tuple[int, int, int, float]]:
    """(day number, events, distinct units, sum of value) per UTC day of the metric's event."""
    params: dict[str, Any] = {"name": metric.event_name, "since": since_us, "day": DAY_US}
    where = compile_conditions(metric.conditions, session.get_bind().dialect.name, "e", params, "c")
    query = text(
        "SELECT e.ts_us / :day AS d, COUNT(*), COUNT(DISTINCT e.user_id), COALESCE(SUM(e.value), 0) "
        f"FROM events e WHERE e.name = :name AND e.ts_us >= :since AND {where} GROUP BY d ORDER BY d"
    )
    rows = await session.execute(query, params)
    return [(int(d), int(n), int(u), float(s)) for d, n, u, s in rows]


async def delete_statistics_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: delete the statistics of experiments not aggregated since ``cutoff`` (experiments
    that ended long ago); returns how many."""
    result = await session.execute(delete(AggregationState).where(AggregationState.aggregated_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result


# --- aggregation ---


async def newest_seq(session: AsyncSession) -> int:
    """The highest committed event sequence number (0 when there are no events)."""
    return int(await session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)


async def state_for_update(session: AsyncSession, experiment_key: str) -> AggregationState | None:
    return await session.get(AggregationState, experiment_key, with_for_update=True)


async def state(session: AsyncSession, experiment_key: str) -> AggregationState | None:
    return await session.get(AggregationState, experiment_key)


async def watermark(session: AsyncSession, experiment_key: str) -> int | None:
    query = select(AggregationState.last_seq).where(AggregationState.experiment_key == experiment_key)
    found: int | None = await session.scalar(query)
    return found


async def states(session: AsyncSession, *, lock: bool) -> Sequence[AggregationState]:
    """Every experiment's stored statistics, in key order (locked for update with ``lock``)."""
    query = select(AggregationState).order_by(AggregationState.experiment_key)
    return (await session.scalars(query.with_for_update() if lock else query)).all()


async def tune(session: AsyncSession) -> None:
    """Planner and memory settings for the aggregation's transaction (PostgreSQL; ``SET LOCAL``)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(text("SET LOCAL work_mem = '256MB'"))  # hashes and sorts in memory
    # JIT compiles the wide conditional aggregates of every partition's scan afresh each run (1-2 s at
    # 10M events) and buys nothing on plans that are hashing bound
    await session.execute(text("SET LOCAL jit = off"))
    # the defaults price parallel workers for a busy many-core server; the job's one big query is
    # worth them even on two cores (measured: first exposures 2.8 -> 1.9 s at 1M units)
    await session.execute(text("SET LOCAL parallel_setup_cost = 10"))
    await session.execute(text("SET LOCAL parallel_tuple_cost = 0.01"))
    # index lookups priced for SSDs / a cached working set (the default 4.0 is for spinning disks): an
    # incremental run then reads its few dirty units' events through the user index (0.6 s) rather
    # than hashing every event (3.7 s, 20,000 units of 1M)
    await session.execute(text("SET LOCAL random_page_cost = 1.1"))


HOUR_US = 3_600_000_000
# sums kept per (metric, variant, day): values counted (n of a mean metric), sum, sum of squares,
# pre-period sum / squares, value x pre cross sum, denominator sum / squares, value x denominator
SUMS = 9


@dataclass(frozen=True)
class Units:
    """Which units a computation covers: all, those listed in a table (``unit_id``; an incremental
    run's dirty units, see :func:`dirty_units`), or the given ids. ``lookup``: the table's units are
    few next to the experiment's, so on PostgreSQL an incremental run looks them up unit by unit and
    reads each unit's events once for both of its contributions (see :func:`compute_change`)."""

    table: str | None = None
    ids: tuple[str, ...] | None = None
    lookup: bool = False

    def looked_up(self, dialect: str) -> bool:
        """Whether the units' rows are read by a lateral lookup per unit (PostgreSQL only)."""
        return self.lookup and self.table is not None and dialect == "postgresql"

    def where(self, column: str, params: dict[str, Any]) -> str:
        if self.ids is not None:
            params["unit_ids"] = list(self.ids) or [""]
            return f"{column} IN :unit_ids"
        if self.table is not None:
            return f"{column} IN (SELECT unit_id FROM {self.table})"
        return "1=1"


ALL_UNITS = Units()


async def _scratch(session: AsyncSession, kind: str, select_sql: str, params: dict[str, Any]) -> str:
    """``CREATE <kind> TABLE agg_scratch_<random> AS <select_sql>``; returns its name. On PostgreSQL
    it is ANALYZEd: true row counts for the planner, which joins it to the events. On an error the
    rollback drops it (DDL is transactional on both databases)."""
    name = f"agg_scratch_{secrets.token_hex(6)}"
    create = text(f"CREATE {kind} TABLE {name} AS {select_sql}")
    await session.execute(_expanding(create), params)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"ANALYZE {name}"))
    return name


async def dirty_units(session: AsyncSession, params: dict[str, Any], lo: int, hi: int) -> tuple[str, int]:
    """A temporary table (its name, and how many units it holds) of the units with events in
    ``(lo, hi]``: exposures of the experiment or events of the metrics' names. Only their
    contribution can have changed since ``lo``. (Found once for both computations of an incremental
    run; with its statistics the planner reads the few units' events through the user index instead
    of hashing every event.)"""
    select_sql = (
        "SELECT DISTINCT d.user_id AS unit_id FROM events d WHERE d.seq > :lo AND d.seq <= :hi AND "
        f"((d.name = :exposure_name AND d.experiment_key = :exp{_env('d', params)}) OR d.name IN :names) "
        "ORDER BY 1"  # in unit order: the lookups go through the user index in its order
    )
    name = await _scratch(session, "TEMP", select_sql, dict(params) | {"lo": lo, "hi": hi})
    return name, int(await session.scalar(text(f"SELECT COUNT(*) FROM {name}")) or 0)


async def drop(session: AsyncSession, table: str) -> None:
    await session.execute(text(f"DROP TABLE {table}"))


def _expanding(stmt: Any) -> Any:
    """The statement with its list parameters bound as expanding ``IN`` lists."""
    lists = [n for n in ("variants", "names", "unit_ids") if re.search(rf":{n}\b", stmt.text)]
    return stmt.bindparams(*(bindparam(n, expanding=True) for n in lists))


_EXPOSURE = (
    "{a}.name = :exposure_name AND {a}.experiment_key = :exp AND {a}.seq <= :upto "
    "AND {a}.variant IN :variants AND {a}.ts_us >= :start AND {a}.ts_us <= :end"
)


def _env(alias: str, params: dict[str, Any]) -> str:
    """Exposures of one environment only (a flag rollout's), when ``params`` names one."""
    return f" AND {alias}.environment = :env" if "env" in params else ""


def _exposure(alias: str, params: dict[str, Any]) -> str:
    return _EXPOSURE.format(a=alias) + _env(alias, params) + _since(alias, params, "start_at")


def _since(alias: str, params: dict[str, Any], bound: str) -> str:
    """``occurred_at >= :<bound>`` when ``params`` has it (PostgreSQL, :func:`_partition_bounds`)."""
    return f" AND {alias}.occurred_at >= :{bound}" if bound in params else ""


def _partition_bounds(params: dict[str, Any], metrics: Sequence[MetricDefinition], dialect: str) -> None:
    """On PostgreSQL, the time bounds of a computation on ``occurred_at``, the partition key, so that
    the daily partitions before them are never read: ``start_at`` for the exposures (the experiment's
    start) and ``floor_at`` for the metrics' events (the start less the longest CUPED pre-period; no
    metric reads an event before its unit's exposure less that). Both repeat ``ts_us`` bounds the
    statements already have (``ts_us`` is ``occurred_at`` in microseconds, written together), so they
    change which partitions are read, never an answer. SQLite has no partitions."""
    if dialect != "postgresql" or params["start"] <= -(2**61):  # no start: every partition
        return
    lookback = max(
        (
            int(m.cuped_pre_window_days) * DAY_US
            for m in metrics
            if m.cuped_pre_window_days and m.kind != "ratio"
        ),
        default=0,
    )
    params["start_at"] = from_us(params["start"])
    params["floor_at"] = from_us(params["start"] - lookback)


async def probed_partitions(
    session: AsyncSession, params: dict[str, Any], metrics: Sequence[MetricDefinition]
) -> int:
    """How many partitions with rows a looked-up unit's statements descend (PostgreSQL): those from the
    metrics' floor (:func:`_partition_bounds`) to today, and the default one. 1 elsewhere."""
    dialect = session.get_bind().dialect.name
    if dialect != "postgresql":
        return 1
    local = dict(params)
    _partition_bounds(local, metrics, dialect)
    first = local["floor_at"].date() if "floor_at" in local else None
    return await populated_partitions(session, first, now().date())


def _exposures_per_unit(units: Units, params: dict[str, Any], dialect: str, columns: str) -> str:
    """Per unit of ``units``: ``user_id`` and ``columns`` (aggregates over its exposure events ``e``).

    Either one read of the experiment's exposures grouped by unit, or, for a few units on PostgreSQL
    (``units.lookup``), a lateral lookup of each unit's events through the user index. The planner
    would not choose the second itself: it multiplies the selectivities of ``name`` and
    ``experiment_key``, which are not independent, expects ~1% of the experiment's exposures, and so
    reads all of them (a bitmap scan of the whole experiment, ~1.7 us per exposure) to keep those of
    the few units; looked up one by one, each unit costs ~25 us (bench/README.md: 1.71 -> 0.51 s for
    20,000 dirty units of 1M). SQLite has no ``LATERAL``."""
    if units.looked_up(dialect):
        return f"""
        SELECT d.unit_id AS user_id, l.*
        FROM {units.table} d CROSS JOIN LATERAL (
            SELECT {columns} FROM events e WHERE e.user_id = d.unit_id AND {_exposure("e", params)}
        ) l
        WHERE l.exposed_us IS NOT NULL
        """
    return f"""
        SELECT e.user_id, {columns}
        FROM events e WHERE {_exposure("e", params)} AND {units.where("e.user_id", params)}
        GROUP BY e.user_id
        """


def first_exposures(units: Units, params: dict[str, Any], dialect: str, *, before: bool = False) -> str:
    """The first exposure of every unit (``unit_id, exposed_us, variant, multi``). The variant is read
    again, in order, only for the rare units exposed to more than one.

    ``before`` (a lookup of a few units only): also each unit's first exposure as of the old watermark
    ``:before`` (``o_exposed_us, o_variant, o_multi``; ``NULL`` for a unit first exposed after it),
    so that one pass gives both contributions of an incremental run (:func:`compute_change`)."""
    old = "FILTER (WHERE e.seq <= :before)"
    columns = "MIN(e.ts_us) AS exposed_us, MIN(e.variant) AS lo, MAX(e.variant) AS hi"
    if before:
        columns += f", MIN(e.ts_us) {old} AS o_exposed_us, MIN(e.variant) {old} AS o_lo"
        columns += f", MAX(e.variant) {old} AS o_hi"
    if "prefer" in params:
        # a flag rollout: a unit ever served the new variation counts there from its first exposure to
        # it (raising the percentage only moves units from the old variation to the new one)
        columns += ", MIN(CASE WHEN e.variant = :prefer THEN e.ts_us END) AS pref_us"
        if before:
            columns += f", MIN(CASE WHEN e.variant = :prefer THEN e.ts_us END) {old} AS o_pref_us"
        template = """COALESCE(g.{o}pref_us, g.{o}exposed_us) AS {o}exposed_us,
               CASE {guard}WHEN g.{o}pref_us IS NULL THEN g.{o}lo ELSE :prefer END AS {o}variant,
               CASE WHEN g.{o}lo = g.{o}hi THEN 0 ELSE 1 END AS {o}multi"""
    else:
        template = """g.{o}exposed_us,
               CASE {guard}WHEN g.{o}lo = g.{o}hi THEN g.{o}lo ELSE ({first}) END AS {o}variant,
               CASE WHEN g.{o}lo = g.{o}hi THEN 0 ELSE 1 END AS {o}multi"""
    first = (
        f"SELECT f.variant FROM events f WHERE f.user_id = g.user_id AND {_exposure('f', params)}"
        "{seq} ORDER BY f.ts_us, f.variant, f.event_id LIMIT 1"
    )
    selects = [template.format(o="", guard="", first=first.format(seq=""))]
    if before:  # a unit without an old exposure gets NULLs (and reads nothing more)
        selects.append(
            template.format(
                o="o_",
                guard="WHEN g.o_exposed_us IS NULL THEN NULL ",
                first=first.format(seq=" AND f.seq <= :before"),
            )
        )
    return f"""
        SELECT g.user_id AS unit_id, {", ".join(selects)}
        FROM ({_exposures_per_unit(units, params, dialect, columns)}) g
        """


def old_exposure_statement(name: str) -> str:
    """:func:`exposure_statement` for the units' exposures as of the old watermark (``before``)."""
    return (
        f"SELECT o_variant, o_exposed_us / :day, COUNT(*), SUM(o_multi) FROM {name} "
        "WHERE o_exposed_us IS NOT NULL GROUP BY 1, 2"
    )


def exposure_statement(name: str) -> str:
    return f"SELECT variant, exposed_us / :day, COUNT(*), SUM(multi) FROM {name} GROUP BY 1, 2"


def _agg(kind: str, aggregation: str) -> str:
    if kind == "mean":
        return "AVG(e.value)"
    if kind == "sum" or (kind == "ratio" and aggregation == "sum"):
        return "SUM(COALESCE(e.value, 0))"
    return "COUNT(*)"


def _value_expr(kind: str, column: str) -> str:
    if kind == "binomial":
        return f"CASE WHEN {column} > 0 THEN 1.0 ELSE 0.0 END"
    if kind == "mean":
        return column
    return f"COALESCE({column}, 0)"


def _capped(expr: str, cap: str | None) -> str:
    return expr if cap is None else f"(CASE WHEN {expr} > {cap} THEN {cap} ELSE {expr} END)"


def _one_metric(
    i: int, metric: MetricDefinition, dialect: str, params: dict[str, Any], side: str = ""
) -> tuple[list[str], tuple[str, str, str]]:
    """The metric's per-unit aggregate columns over the joined events ``e`` and scratch rows ``x``, and
    its (value, pre-value, denominator) expressions over them (alias ``u``), winsorized when the metric
    asks for it. A mean metric's unit without a value has no pre-value either (it is not counted).

    ``side`` ``"o_"``: the unit's contribution as of the old watermark instead (columns named ``o_...``,
    only events with ``seq <= :before``, windows from ``x.o_exposed_us``; :func:`change_statement`)."""
    conds = compile_conditions(metric.conditions, dialect, "e", params, f"c{i}_")
    params[f"ev{i}"] = metric.event_name
    exposed = f"x.{side}exposed_us"
    seq = " AND e.seq <= :before" if side else ""
    span = f"e.ts_us >= {exposed} AND e.ts_us <= :end"  # nothing after a completed experiment's end
    if metric.attribution_window_hours:
        span += f" AND e.ts_us < {exposed} + {int(metric.attribution_window_hours) * HOUR_US}"
    agg = _agg(metric.kind, metric.numerator_aggregation)
    n, p, d = f"{side}n{i}", f"{side}p{i}", f"{side}d{i}"
    columns = [f"{agg} FILTER (WHERE e.name = :ev{i}{seq} AND {span} AND {conds}) AS {n}"]
    cap = None
    if metric.winsorize_cap is not None and metric.kind != "binomial":
        params[f"cap{i}"] = float(metric.winsorize_cap)
        cap = f":cap{i}"
    value, pre, den = _capped(_value_expr(metric.kind, f"u.{n}"), cap), "NULL", "NULL"
    if metric.cuped_pre_window_days and metric.kind != "ratio":
        lookback = int(metric.cuped_pre_window_days) * DAY_US
        pre_span = f"e.ts_us < {exposed} AND e.ts_us >= {exposed} - {lookback}"
        columns.append(f"{agg} FILTER (WHERE e.name = :ev{i}{seq} AND {pre_span} AND {conds}) AS {p}")
        if metric.kind == "mean":
            pre = f"CASE WHEN u.{n} IS NULL THEN NULL ELSE {_capped(f'COALESCE(u.{p}, 0)', cap)} END"
        else:
            pre = _capped(_value_expr(metric.kind, f"u.{p}"), cap)
    if metric.kind == "ratio" and metric.denominator_event:
        params[f"den{i}"] = metric.denominator_event
        den_agg = _agg("ratio", metric.denominator_aggregation)
        columns.append(f"{den_agg} FILTER (WHERE e.name = :den{i}{seq} AND {span}) AS {d}")
        den = f"COALESCE(u.{d}, 0)"
    return columns, (value, pre, den)


def _parts(
    metrics: Sequence[MetricDefinition], dialect: str, params: dict[str, Any], side: str = ""
) -> tuple[list[str], list[str], list[str]]:
    """Every metric's per-unit aggregates (over ``e`` and ``x``), per-unit values (over ``u``, named
    ``v<i>``, ``p<i>``, ``d<i>``) and sums per (variant, day) (over those values)."""
    inner: list[str] = []
    middle: list[str] = []
    outer: list[str] = []
    for i, metric in enumerate(metrics):
        cols, (value, pre, den) = _one_metric(i, metric, dialect, params, side)
        inner += cols
        for label, expr in (("v", value), ("p", pre), ("d", den)):
            if expr != "NULL":
                middle.append(f"CAST({expr} AS DOUBLE PRECISION) AS {label}{i}")
        v, p, d = f"v{i}", f"p{i}", f"d{i}"
        outer += [f"COUNT({v})", f"SUM({v})", f"SUM({v} * {v})"]
        for other, expr in ((p, pre), (d, den)):  # a metric without a pre-period or denominator: NULLs
            outer += (
                [f"SUM({other})", f"SUM({other} * {other})", f"SUM({v} * {other})"]
                if expr != "NULL"
                else ["NULL"] * 3
            )
    return inner, middle, outer


def metrics_statement(
    name: str, metrics: Sequence[MetricDefinition], dialect: str, params: dict[str, Any]
) -> str:
    """Every metric's sums per (variant, day) for the units of the scratch table: one pass over the
    events (joined to the scratch rows by unit, grouped by unit), then one GROUP BY (variant, day).
    Units with no event of any metric are not in the join; they count in ``n`` of the non-mean
    metrics through the exposure counts and add zero to every sum.

    The scratch table has one row per unit, so the per-unit step groups by the unit's whole row
    (unit, variant, first exposure) rather than taking ``MIN(variant)``, which compared the variant
    text (through the collation) once per joined event; the sums of a metric without a pre-period or
    denominator are ``NULL`` constants rather than sums over a ``NULL`` column (measured, bench/README.md:
    from scratch at 10M events, median 6.06 -> 5.72 s)."""
    inner, middle, outer = _parts(metrics, dialect, params)
    per_unit = f"""
                SELECT x.unit_id, x.variant, x.exposed_us, {", ".join(inner)}
                FROM {name} x JOIN events e ON e.user_id = x.unit_id
                WHERE e.name IN :names AND e.seq <= :upto{_since("e", params, "floor_at")}
                GROUP BY x.unit_id, x.variant, x.exposed_us
                """
    return f"""
        SELECT variant, day, {", ".join(outer)}
        FROM (
            SELECT u.variant, u.exposed_us / :day AS day, {", ".join(middle)}
            FROM ({per_unit}) u
        ) w
        GROUP BY 1, 2
        """


def change_statement(
    name: str, metrics: Sequence[MetricDefinition], dialect: str, params: dict[str, Any]
) -> str:
    """Both contributions of a few looked-up units in one pass (PostgreSQL): each unit's events with
    ``seq <= :upto`` read once through the user index, aggregated as of ``:upto`` (from the unit's
    first exposure) and, filtered by ``seq <= :before``, as of the old watermark (from its first
    exposure then). Rows ``(side, variant, day, sums...)``: side 1 the new contribution, -1 the old.

    A unit is in the old side only if it had an exposure and one of the metrics' events by then, as
    it was in the join of that computation."""
    inner, middle, outer = _parts(metrics, dialect, params)
    old_inner, old_middle, _ = _parts(metrics, dialect, params, side="o_")
    since = _since("e", params, "floor_at")
    return f"""
        WITH u AS MATERIALIZED (
            SELECT x.variant, x.exposed_us, x.o_variant, x.o_exposed_us, l.*
            FROM {name} x CROSS JOIN LATERAL (
                SELECT COUNT(*) FILTER (WHERE e.seq <= :before) AS o_events,
                       {", ".join(inner + old_inner)}
                FROM events e
                WHERE e.user_id = x.unit_id AND e.name IN :names AND e.seq <= :upto{since}
                HAVING COUNT(*) > 0
            ) l
        )
        SELECT 1, variant, day, {", ".join(outer)}
        FROM (SELECT u.variant, u.exposed_us / :day AS day, {", ".join(middle)} FROM u) w
        GROUP BY 2, 3
        UNION ALL
        SELECT -1, variant, day, {", ".join(outer)}
        FROM (
            SELECT u.o_variant AS variant, u.o_exposed_us / :day AS day, {", ".join(old_middle)}
            FROM u WHERE u.o_exposed_us IS NOT NULL AND u.o_events > 0
        ) w
        GROUP BY 2, 3
        """


@dataclass(frozen=True)
class RawSums:
    """What one computation returns: ``exposures`` rows ``(variant, day, units, multi)`` and, per
    metric key, rows ``(variant, day, *SUMS)``."""

    exposures: list[tuple[str, int, int, int]]
    metrics: dict[str, list[tuple[Any, ...]]]


def _num(value: Any) -> float:
    return float(value or 0)


async def _index_scans(session: AsyncSession, *, on: bool) -> None:
    """PostgreSQL's plain index scans, off while a whole experiment's first exposures are read. The
    planner multiplies the selectivities of ``name = 'exposure'`` and ``experiment_key = ...``, which are
    not independent, and so expects ~1% of the exposures (4,106 rows for 333,333 per worker at 1M
    units); at that estimate it reads them through the experiment index in time order, one heap page
    at random per exposure (2.4-2.8 s), instead of a bitmap of both indexes read in table order
    (1.4-1.5 s). A bitmap scan is never far from the better plan for this statement, whatever the
    estimate, so index scans are off for it only (``SET LOCAL``, back on after)."""
    await session.execute(text(f"SET LOCAL enable_indexscan = {'on' if on else 'off'}"))


async def compute_sums(
    session: AsyncSession,
    params: dict[str, Any],
    metrics: Sequence[MetricDefinition],
    units: Units,
    *,
    parallel: bool,
) -> RawSums:
    """Exposure counts and metric sums per (variant, day) of ``units`` from the events with
    ``seq <= params['upto']``. ``params`` carries ``exp, upto, start, variants, names, day``. Units
    looked up one by one go through :func:`compute_change` instead."""
    dialect = session.get_bind().dialect.name
    local = dict(params)
    _partition_bounds(local, metrics, dialect)
    kind = "UNLOGGED" if dialect == "postgresql" and parallel else "TEMP"
    if kind == "UNLOGGED":
        await _index_scans(session, on=False)
    name = await _scratch(session, kind, first_exposures(units, local, dialect), local)
    if kind == "UNLOGGED":
        await _index_scans(session, on=True)
    exposures = await _exposures(session, exposure_statement(name), local)
    by_metric: dict[str, list[tuple[Any, ...]]] = {m.key: [] for m in metrics}
    if metrics and exposures:
        stmt = text(metrics_statement(name, metrics, dialect, local))
        for row in await session.execute(_expanding(stmt), local):
            _add_row(tuple(row), metrics, by_metric)
    await drop(session, name)
    return RawSums(exposures, by_metric)


async def _exposures(
    session: AsyncSession, statement: str, params: dict[str, Any]
) -> list[tuple[str, int, int, int]]:
    rows = await session.execute(text(statement), params)
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]


def _add_row(
    cells: tuple[Any, ...], metrics: Sequence[MetricDefinition], into: dict[str, list[tuple[Any, ...]]]
) -> None:
    """One ``(variant, day, sums of every metric...)`` row, split per metric."""
    variant, day = str(cells[0]), int(cells[1])
    for i, metric in enumerate(metrics):
        base = 2 + i * SUMS
        values = (int(cells[base] or 0), *(_num(v) for v in cells[base + 1 : base + SUMS]))
        into[metric.key].append((variant, day, *values))


async def compute_change(
    session: AsyncSession,
    params: dict[str, Any],
    metrics: Sequence[MetricDefinition],
    units: Units,
    before: int,
    *,
    parallel: bool,
) -> tuple[RawSums, RawSums]:
    """An incremental run's two contributions of ``units``: as of ``params['upto']`` (new) and as of
    ``before`` (old, what the statistics hold). Units looked up one by one (:class:`Units`) are read
    once for both (:func:`change_statement`); otherwise two computations."""
    dialect = session.get_bind().dialect.name
    if not units.looked_up(dialect):
        new = await compute_sums(session, params, metrics, units, parallel=parallel)
        old = await compute_sums(session, params | {"upto": before}, metrics, units, parallel=parallel)
        return new, old
    local = dict(params) | {"before": before}
    _partition_bounds(local, metrics, dialect)
    name = await _scratch(session, "TEMP", first_exposures(units, local, dialect, before=True), local)
    new = RawSums(await _exposures(session, exposure_statement(name), local), {m.key: [] for m in metrics})
    old = RawSums(
        await _exposures(session, old_exposure_statement(name), local), {m.key: [] for m in metrics}
    )
    if metrics and new.exposures:
        stmt = text(change_statement(name, metrics, dialect, local))
        for row in await session.execute(_expanding(stmt), local):
            side, *cells = tuple(row)
            _add_row(tuple(cells), metrics, (new if side > 0 else old).metrics)
    await drop(session, name)
    return new, old
