"""The SQL of the aggregation: per-unit rows recomputed from raw events, and the GROUP BY that turns
them into sufficient statistics. Text SQL that runs unchanged on SQLite and PostgreSQL."""

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


async def delete_units(session: AsyncSession, params: dict[str, Any], full: bool) -> None:
    where = dirty_units(full).format(col="unit_id")
    stmt = text(f"DELETE FROM metric_units WHERE experiment_key = :exp AND {where}")
    if not full:
        stmt = stmt.bindparams(bindparam("names", expanding=True))
    await session.execute(stmt, params)


async def insert_exposures(session: AsyncSession, params: dict[str, Any], full: bool) -> None:
    """One row per exposed unit: its first exposure (time, variant; ties broken by variant then
    event id) and whether it saw more than one variant."""
    where = dirty_units(full).format(col="e.user_id")
    stmt = text(
        f"""
        WITH x AS (
            SELECT e.user_id, e.variant, e.ts_us,
                   ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY e.ts_us, e.variant, e.event_id) AS rn
            FROM events e
            WHERE e.name = 'exposure' AND e.experiment_key = :exp AND e.seq <= :hi
              AND e.variant IN :variants AND e.ts_us >= :start AND {where}
        ), m AS (SELECT user_id, COUNT(DISTINCT variant) AS nv FROM x GROUP BY user_id)
        INSERT INTO metric_units ({UNIT_COLUMNS})
        SELECT :exp, '{EXPOSURE}', x.user_id, x.variant, x.ts_us, x.ts_us / :day, m.nv > 1, NULL, NULL, NULL
        FROM x JOIN m ON m.user_id = x.user_id WHERE x.rn = 1
        """
    ).bindparams(bindparam("variants", expanding=True))
    if not full:
        stmt = stmt.bindparams(bindparam("names", expanding=True))
    await session.execute(stmt, params)


def _agg(kind: str, aggregation: str) -> str:
    if kind == "mean":
        return "AVG(e.value)"
    if kind == "sum" or (kind == "ratio" and aggregation == "sum"):
        return "SUM(COALESCE(e.value, 0))"
    return "COUNT(*)"


def _window_cte(name: str, agg: str, event: str, span: str, where: str) -> str:
    return (
        f"{name} AS (SELECT x.unit_id, {agg} AS v FROM x JOIN events e ON e.user_id = x.unit_id "
        f"WHERE e.name = {event} AND e.seq <= :hi AND {span} AND {where} GROUP BY x.unit_id)"
    )


def _value_expr(kind: str, ref: str) -> str:
    if kind == "binomial":
        return f"CASE WHEN {ref}.v > 0 THEN 1.0 ELSE 0.0 END"
    if kind == "mean":
        return f"{ref}.v"
    return f"COALESCE({ref}.v, 0)"


def metric_statement(metric: MetricDefinition, dialect: str, params: dict[str, Any]) -> str:
    """INSERT ... SELECT of the metric's per-unit rows for the exposure rows already written."""
    conds = compile_conditions(metric.conditions, dialect, "e", params, f"c_{len(params)}_")
    params[f"ev_{metric.key}"] = metric.event_name
    event = f":ev_{metric.key}"
    span = "e.ts_us >= x.exposed_us"
    if metric.attribution_window_hours:
        span += f" AND e.ts_us < x.exposed_us + {int(metric.attribution_window_hours) * HOUR_US}"
    agg = _agg(metric.kind, metric.numerator_aggregation)
    ctes = [_window_cte("num", agg, event, span, conds)]
    pre, den = "NULL", "NULL"
    if metric.cuped_pre_window_days and metric.kind != "ratio":
        lookback = int(metric.cuped_pre_window_days) * DAY_US
        pre_span = f"e.ts_us < x.exposed_us AND e.ts_us >= x.exposed_us - {lookback}"
        ctes.append(_window_cte("pre", agg, event, pre_span, conds))
        pre = "COALESCE(pre.v, 0)" if metric.kind == "mean" else _value_expr(metric.kind, "pre")
    if metric.kind == "ratio" and metric.denominator_event:
        params[f"den_{metric.key}"] = metric.denominator_event
        den_agg = _agg("ratio", metric.denominator_aggregation)
        ctes.append(_window_cte("den", den_agg, f":den_{metric.key}", span, "1=1"))
        den = "COALESCE(den.v, 0)"
    joins = " ".join(
        f"LEFT JOIN {name} ON {name}.unit_id = x.unit_id"
        for name in ("pre", "den")
        if any(c.startswith(name + " ") for c in ctes)
    )
    params[f"mk_{metric.key}"] = metric.key
    return f"""
        WITH x AS (
            SELECT unit_id, variant, exposed_us, exposed_day, multi_variant FROM metric_units
            WHERE experiment_key = :exp AND metric_key = '{EXPOSURE}' AND {{dirty}}
        ), {", ".join(ctes)}
        INSERT INTO metric_units ({UNIT_COLUMNS})
        SELECT :exp, :mk_{metric.key}, x.unit_id, x.variant, x.exposed_us, x.exposed_day, x.multi_variant,
               {_value_expr(metric.kind, "num")}, {pre}, {den}
        FROM x LEFT JOIN num ON num.unit_id = x.unit_id {joins}
        """


async def insert_metric(
    session: AsyncSession, metric: MetricDefinition, params: dict[str, Any], full: bool
) -> None:
    local = dict(params)
    sql = metric_statement(metric, session.get_bind().dialect.name, local)
    stmt = text(sql.replace("{dirty}", dirty_units(full).format(col="unit_id")))
    if not full:
        stmt = stmt.bindparams(bindparam("names", expanding=True))
    await session.execute(stmt, local)


def _capped(column: str, cap: float | None) -> str:
    if cap is None:
        return column
    return f"(CASE WHEN {column} > {float(cap)!r} THEN {float(cap)!r} ELSE {column} END)"


def stats_query(cap: float | None, by_day: bool) -> str:
    """Sufficient statistics per variant (and per exposure day for the series)."""
    v, p = _capped("value", cap), _capped("pre_value", cap)
    group = "variant, exposed_day" if by_day else "variant"
    return f"""
        SELECT {group}, COUNT(*), SUM(v), SUM(v * v), SUM(p), SUM(p * p), SUM(v * p),
               SUM(d), SUM(d * d), SUM(v * d)
        FROM (SELECT variant, exposed_day, {v} AS v, {p} AS p, denominator AS d FROM metric_units
              WHERE experiment_key = :exp AND metric_key = :metric AND value IS NOT NULL) u
        GROUP BY {group} ORDER BY {group}
        """
