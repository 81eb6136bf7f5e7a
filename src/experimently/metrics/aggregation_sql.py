"""The SQL of the aggregation: per-unit rows recomputed from raw events, and the GROUP BY that turns
them into sufficient statistics. Text SQL; where the fast form differs between SQLite and PostgreSQL
(first exposure), both are here.

A run is three statements whatever the number of metrics: delete the dirty units' rows, insert their
``$exposure`` rows (one pass over the experiment's exposure events), and insert every metric's rows
from ONE join of those exposure rows to the events of the metrics' event names, grouped by unit, each
metric's numerator / pre-period / denominator being a conditional aggregate (``FILTER``) over it.
"""

# ruff: noqa: S608  (SQL text is assembled from constants and compiled conditions; every value is bound)

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.metrics.conditions import compile_conditions
from experimently.metrics.models import MetricDefinition

EXPOSURE = "$exposure"
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
UNIT_COLUMNS = (
    "experiment_key, metric_key, unit_id, variant, exposed_us, exposed_day, multi_variant, "
    "value, pre_value, denominator"
)


def dirty_units(full: bool) -> str:
    """Units whose row may change: every unit (from scratch) or those with events in (lo, hi]."""
    if full:
        return "1=1"
    return (
        "{col} IN (SELECT d.user_id FROM events d WHERE d.seq > :lo AND d.seq <= :hi AND "
        "((d.name = 'exposure' AND d.experiment_key = :exp) OR d.name IN :names))"
    )


def _bind_lists(stmt: Any, *names: str) -> Any:
    return stmt.bindparams(*(bindparam(n, expanding=True) for n in names))


async def delete_units(session: AsyncSession, params: dict[str, Any], full: bool) -> None:
    where = dirty_units(full).format(col="unit_id")
    stmt = text(f"DELETE FROM metric_units WHERE experiment_key = :exp AND {where}")
    if not full:
        stmt = _bind_lists(stmt, "names")
    await session.execute(stmt, params)


_EXPOSURES = (
    "e.name = 'exposure' AND e.experiment_key = :exp AND e.seq <= :hi AND e.variant IN :variants "
    "AND e.ts_us >= :start"
)


def exposure_statement(dialect: str, full: bool) -> str:
    """One row per exposed unit: its first exposure (time, variant; ties broken by variant then event
    id) and whether it saw more than one variant (MIN <> MAX over its exposures, same sort)."""
    where = f"{_EXPOSURES} AND {dirty_units(full).format(col='e.user_id')}"
    insert = f"INSERT INTO metric_units ({UNIT_COLUMNS})"
    row = f":exp, '{EXPOSURE}', f.user_id, f.variant, f.ts_us, f.ts_us / :day, f.lo <> f.hi, NULL, NULL, NULL"
    window = "WINDOW w AS (PARTITION BY e.user_id)"
    if dialect == "postgresql":
        # one sort of the experiment's exposures by unit; the window aggregates reuse it
        return f"""
            {insert} SELECT {row} FROM (
                SELECT DISTINCT ON (e.user_id) e.user_id, e.variant, e.ts_us,
                       MIN(e.variant) OVER w AS lo, MAX(e.variant) OVER w AS hi
                FROM events e WHERE {where} {window}
                ORDER BY e.user_id, e.ts_us, e.variant, e.event_id
            ) f
            """
    return f"""
        {insert} SELECT {row} FROM (
            SELECT e.user_id, e.variant, e.ts_us, MIN(e.variant) OVER w AS lo, MAX(e.variant) OVER w AS hi,
                   ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY e.ts_us, e.variant, e.event_id) AS rn
            FROM events e WHERE {where} {window}
        ) f WHERE f.rn = 1
        """


async def insert_exposures(session: AsyncSession, params: dict[str, Any], full: bool) -> None:
    stmt = _bind_lists(text(exposure_statement(session.get_bind().dialect.name, full)), "variants")
    if not full:
        stmt = _bind_lists(stmt, "names")
    await session.execute(stmt, params)


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


def _one_metric(
    i: int, metric: MetricDefinition, dialect: str, params: dict[str, Any]
) -> tuple[list[str], tuple[str, str, str]]:
    """The metric's aggregate columns over the joined events ``e`` (alias per unit ``x``) and its
    (value, pre_value, denominator) expressions over them."""
    conds = compile_conditions(metric.conditions, dialect, "e", params, f"c{i}_")
    params[f"ev{i}"] = metric.event_name
    span = "e.ts_us >= x.exposed_us"
    if metric.attribution_window_hours:
        span += f" AND e.ts_us < x.exposed_us + {int(metric.attribution_window_hours) * HOUR_US}"
    agg = _agg(metric.kind, metric.numerator_aggregation)
    columns = [f"{agg} FILTER (WHERE e.name = :ev{i} AND {span} AND {conds}) AS n{i}"]
    value, pre, den = _value_expr(metric.kind, f"a.n{i}"), "NULL", "NULL"
    if metric.cuped_pre_window_days and metric.kind != "ratio":
        lookback = int(metric.cuped_pre_window_days) * DAY_US
        pre_span = f"e.ts_us < x.exposed_us AND e.ts_us >= x.exposed_us - {lookback}"
        columns.append(f"{agg} FILTER (WHERE e.name = :ev{i} AND {pre_span} AND {conds}) AS p{i}")
        pre = f"COALESCE(a.p{i}, 0)" if metric.kind == "mean" else _value_expr(metric.kind, f"a.p{i}")
    if metric.kind == "ratio" and metric.denominator_event:
        params[f"den{i}"] = metric.denominator_event
        den_agg = _agg("ratio", metric.denominator_aggregation)
        columns.append(f"{den_agg} FILTER (WHERE e.name = :den{i} AND {span}) AS d{i}")
        den = f"COALESCE(a.d{i}, 0)"
    return columns, (value, pre, den)


def metrics_statement(metrics: list[MetricDefinition], dialect: str, params: dict[str, Any]) -> str:
    """INSERT ... SELECT of every metric's per-unit rows for the exposure rows already written: one
    pass over the events (joined to the exposure rows by unit, grouped by unit), then one row per
    (metric, unit) from a cross join with the metric keys."""
    columns: list[str] = []
    cases: tuple[list[str], list[str], list[str]] = ([], [], [])
    keys: list[str] = []
    for i, metric in enumerate(metrics):
        cols, exprs = _one_metric(i, metric, dialect, params)
        columns += cols
        for case, expr in zip(cases, exprs, strict=True):
            case.append(f"WHEN {i} THEN {expr}")
        params[f"mk{i}"] = metric.key
        keys.append(f"SELECT {i} AS i, CAST(:mk{i} AS VARCHAR(100)) AS metric_key")
    value, pre, den = (f"CAST(CASE k.i {' '.join(case)} END AS DOUBLE PRECISION)" for case in cases)
    x = (
        "(SELECT unit_id, variant, exposed_us, exposed_day, multi_variant FROM metric_units "
        f"WHERE experiment_key = :exp AND metric_key = '{EXPOSURE}' AND {{dirty}}) x"
    )
    # The exposure rows appear twice rather than as one shared CTE: a materialized CTE has no
    # statistics, and PostgreSQL then hashes the 10M events instead of the 1M exposure rows. The outer
    # scan of them is the probe side of the last hash join, so rows come out in the exposure rows'
    # physical order, which a from-scratch run wrote sorted by unit: the index inserts then walk the
    # btrees in order instead of at random (measured: half the insert time at 1M units).
    return f"""
        WITH a AS (
            SELECT x.unit_id, {", ".join(columns)}
            FROM {x} JOIN events e ON e.user_id = x.unit_id
            WHERE e.name IN :names AND e.seq <= :hi
            GROUP BY x.unit_id
        )
        INSERT INTO metric_units ({UNIT_COLUMNS})
        SELECT :exp, k.metric_key, x.unit_id, x.variant, x.exposed_us, x.exposed_day, x.multi_variant,
               {value}, {pre}, {den}
        FROM {x} LEFT JOIN a ON a.unit_id = x.unit_id CROSS JOIN ({" UNION ALL ".join(keys)}) k
        """


async def insert_metrics(
    session: AsyncSession, metrics: list[MetricDefinition], params: dict[str, Any], full: bool
) -> None:
    if not metrics:
        return
    local = dict(params)
    sql = metrics_statement(metrics, session.get_bind().dialect.name, local)
    stmt = _bind_lists(text(sql.replace("{dirty}", dirty_units(full).format(col="unit_id"))), "names")
    await session.execute(stmt, local)


# the experiment's metric keys by a walk down the primary key (a few index probes, not a scan of the
# experiment's rows)
METRIC_KEYS = """
    WITH RECURSIVE k(key) AS (
        SELECT MIN(metric_key) FROM metric_units WHERE experiment_key = :exp
        UNION ALL
        SELECT (SELECT MIN(m.metric_key) FROM metric_units m
                WHERE m.experiment_key = :exp AND m.metric_key > k.key)
        FROM k WHERE k.key IS NOT NULL
    )
    SELECT key FROM k WHERE key IS NOT NULL
    """


def _capped(column: str, caps: dict[str, str]) -> str:
    """``column`` with the cap of its row's metric applied (``caps``: bind name of a metric key -> bind
    name of its cap)."""
    if not caps:
        return column
    whens = " ".join(
        f"WHEN :{key} THEN (CASE WHEN {column} > :{cap} THEN :{cap} ELSE {column} END)"
        for key, cap in caps.items()
    )
    return f"(CASE metric_key {whens} ELSE {column} END)"


def stats_query(caps: dict[str, float], params: dict[str, Any]) -> str:
    """Sufficient statistics of every metric of an experiment per (metric, variant, exposure day), the
    winsorization cap of each metric (``caps``: metric key -> cap) applied to its per-unit values (bound
    into ``params``). The ``$exposure`` rows come out with ``n`` = exposed units and the multi-variant
    count in place of the value sum."""
    names: dict[str, str] = {}
    for i, (key, cap) in enumerate(sorted(caps.items())):
        params[f"ck{i}"], params[f"cv{i}"] = key, float(cap)
        names[f"ck{i}"] = f"cv{i}"
    v, p = _capped("value", names), _capped("pre_value", names)
    multi = "CASE WHEN multi_variant THEN 1 ELSE 0 END"
    return f"""
        SELECT metric_key, variant, exposed_day, COUNT(*), SUM(v), SUM(v * v), SUM(p), SUM(p * p),
               SUM(v * p), SUM(d), SUM(d * d), SUM(v * d)
        FROM (SELECT metric_key, variant, exposed_day,
                     CASE WHEN metric_key = '{EXPOSURE}' THEN {multi} ELSE {v} END AS v, {p} AS p,
                     denominator AS d
              FROM metric_units
              WHERE experiment_key = :exp AND (value IS NOT NULL OR metric_key = '{EXPOSURE}')) u
        GROUP BY metric_key, variant, exposed_day ORDER BY metric_key, variant, exposed_day
        """
