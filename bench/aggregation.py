"""Aggregation from scratch, repeated, on the database that ``bench/results.py`` filled (1M users /
10M events by default): for A/B runs of two versions of the code on the same data and load.

Run (after ``bench/results.py`` has created and filled its database):

    .venv/bin/python bench/aggregation.py --runs 5 [--database-url URL] [--explain] [--floor]

To compare with another version of the code, check it out elsewhere (``git worktree add /tmp/old
<commit>``) and interleave: ``PYTHONPATH=/tmp/old/src .venv/bin/python bench/aggregation.py --runs 1``
then this tree's, and again. It only calls ``recompute_from_scratch``, which every version has.

``--floor`` also times the same computation over the narrowest store PostgreSQL could hold for it,
built once before the timed runs (not timed): each unit a dense ``int4``, the first exposures already
computed (one row per unit: number, first exposure time, variant as a ``smallint``), the metrics'
events as ``(unit int4, name smallint, ts_us int8, value float8)`` in arrival order (as stored: a
layout grouped by unit flatters the pass 2-3x), both UNLOGGED and VACUUM ANALYZEd,
the planner tuned as the aggregation tunes it. It is the three bench metrics' per-unit values and
their sums per (variant, day), the same work as the production pass without the first exposures and
with every join on an integer; its sums must equal the stored statistics (checked, to rounding). What
it times is a floor for any layout of raw events in PostgreSQL's executor, not a design. The tables
live in the schema ``bench_floor``, dropped at the end.

``--explain`` loads PostgreSQL's ``auto_explain`` in the run's transaction and prints the plan with
actual timings of every statement that took more than 50 ms (one extra run, not counted): where the
time goes, step by step. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from experimently.kit.clock import DAY_US, to_us
from experimently.metrics import aggregation, repository
from experimently.metrics.aggregation import (
    ExperimentSpec,
    ExperimentStats,
    aggregate_experiment,
    load_snapshot,
    recompute_from_scratch,
)

KEY = "bench-results"  # as bench/results.py defines it
START = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = ExperimentSpec(KEY, ("control", "treatment"), ("purchase", "revenue", "errors"), START)


async def _explain_on(session: AsyncSession) -> None:
    await session.execute(text("LOAD 'auto_explain'"))
    for setting, value in (
        ("auto_explain.log_min_duration", "50"),
        ("auto_explain.log_analyze", "on"),
        ("auto_explain.log_timing", "on"),
        ("client_min_messages", "log"),
    ):
        await session.execute(text(f"SET LOCAL {setting} = '{value}'"))
    raw = await (await session.connection()).get_raw_connection()

    def show(_connection: Any, message: Any) -> None:
        print(message.message)

    raw.driver_connection.add_log_listener(show)  # type: ignore[union-attr]  # asyncpg connection


# 5 events (4 purchases, 1 error) for each of :users consecutive users from a random one, 40 days after
# the start (another set of users each time, so repeated runs do not pile events onto the same units)
MORE_SQL = """
INSERT INTO events (event_id, name, user_id, environment, value, properties, occurred_at, ts_us, received_at)
SELECT 'a' || :tag || '-' || g || '-' || k, CASE WHEN k = 5 THEN 'error' ELSE 'purchase' END, 'u' || g,
       'production', CASE WHEN k = 5 THEN NULL ELSE 1 + (g + k) % 20 END, '{}'::jsonb, t.at,
       (extract(epoch FROM t.at) * 1000000)::bigint, now()
FROM generate_series(CAST(:first AS bigint), CAST(:first AS bigint) + :users - 1) AS g
CROSS JOIN generate_series(1, 5) AS k
CROSS JOIN LATERAL (SELECT CAST(:start AS timestamptz) + interval '40 days' + k * interval '1 hour' AS at) t
"""


async def one_run(
    sessions: async_sessionmaker[AsyncSession], *, explain: bool = False, incremental: bool = False
) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    async with sessions() as session, session.begin():
        if explain:
            await _explain_on(session)
        if incremental:
            await aggregate_experiment(session, SPEC)
        else:
            await recompute_from_scratch(session, SPEC)
    return {"wall_s": time.perf_counter() - wall, "client_cpu_s": time.process_time() - cpu}


PRE_US = 14 * DAY_US  # revenue's CUPED pre-period, as bench/results.py defines it
FLOOR_TABLES = [
    "DROP SCHEMA IF EXISTS bench_floor CASCADE",
    "CREATE SCHEMA bench_floor",
    # the first exposures, already computed (the production pass reads them from its scratch table)
    """CREATE UNLOGGED TABLE bench_floor.units AS
       SELECT (row_number() OVER (ORDER BY user_id))::int4 AS u, user_id, min_ts AS x,
              (CASE WHEN variant = 'treatment' THEN 1 ELSE 0 END)::int2 AS v
       FROM (SELECT user_id, MIN(ts_us) AS min_ts, MIN(variant) AS variant FROM events
             WHERE name = 'exposure' AND experiment_key = :key AND ts_us >= :start GROUP BY user_id) g""",
    """CREATE UNLOGGED TABLE bench_floor.facts AS
       SELECT x.u, (CASE e.name WHEN 'purchase' THEN 1 ELSE 2 END)::int2 AS n, e.ts_us, e.value
       FROM events e JOIN bench_floor.units x ON x.user_id = e.user_id
       WHERE e.name IN ('purchase', 'error')
       ORDER BY e.seq""",  # in arrival order, as the events are stored (see bench/results.py --layout)
]
FLOOR_TRIM = "ALTER TABLE bench_floor.units DROP COLUMN user_id"  # the units are numbers from here on
FLOOR_VACUUM = ["VACUUM ANALYZE bench_floor.units", "VACUUM ANALYZE bench_floor.facts"]
FLOOR_PARAMS = {"key": KEY, "start": to_us(START)}
# purchase (binomial), revenue (sum, 14-day CUPED pre-period), errors (count), as the production
# statement computes them (metrics.repository.metrics_statement), per unit then per (variant, day)
FLOOR_PASS = f"""
SELECT v, x / {DAY_US} AS day, COUNT(*), SUM(c), SUM(r), SUM(r * r), SUM(p), SUM(p * p), SUM(r * p),
       SUM(e), SUM(e * e)
FROM (
    SELECT x.u, x.v, x.x,
           CASE WHEN COUNT(*) FILTER (WHERE f.n = 1 AND f.ts_us >= x.x) > 0 THEN 1.0 ELSE 0.0 END AS c,
           COALESCE(SUM(f.value) FILTER (WHERE f.n = 1 AND f.ts_us >= x.x), 0) AS r,
           COALESCE(SUM(f.value) FILTER (WHERE f.n = 1 AND f.ts_us < x.x AND f.ts_us >= x.x - {PRE_US}), 0)
               AS p,
           COUNT(*) FILTER (WHERE f.n = 2 AND f.ts_us >= x.x) AS e
    FROM bench_floor.facts f JOIN bench_floor.units x ON x.u = f.u
    GROUP BY x.u, x.v, x.x
) per_unit
GROUP BY 1, 2
"""


async def floor_runs(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], runs: int
) -> tuple[list[float], list[Any]]:
    """Build the narrow store (untimed), then time ``runs`` passes over it; returns the wall times and
    the last pass's rows."""
    async with sessions() as session, session.begin():
        for statement in [*FLOOR_TABLES, FLOOR_TRIM]:
            await session.execute(text(statement), FLOOR_PARAMS)
    async with engine.connect() as connection:  # VACUUM runs outside a transaction
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in FLOOR_VACUUM:
            await autocommit.execute(text(statement))
    walls: list[float] = []
    rows: list[Any] = []
    for _ in range(runs):
        async with sessions() as session, session.begin():
            await repository.tune(session)
            began = time.perf_counter()
            rows = list(await session.execute(text(FLOOR_PASS)))
            walls.append(time.perf_counter() - began)
    async with sessions() as session, session.begin():
        await session.execute(text("DROP SCHEMA bench_floor CASCADE"))
    return walls, rows


def floor_matches(rows: list[Any], stats: ExperimentStats) -> bool:
    """Whether the narrow pass's sums, over every day, equal the stored statistics (to rounding)."""
    totals: dict[int, list[float]] = {}
    for v, _day, *sums in rows:
        into = totals.setdefault(int(v), [0.0] * len(sums))
        for i, value in enumerate(sums):
            into[i] += float(value or 0)
    expected: dict[int, list[float]] = {}
    for code, variant in ((0, "control"), (1, "treatment")):
        purchase, revenue, errors = (stats.metrics[k][variant] for k in ("purchase", "revenue", "errors"))
        expected[code] = [
            stats.units[variant],
            purchase.sum,
            revenue.sum,
            revenue.sum_squares,
            revenue.pre_sum or 0.0,
            revenue.pre_sum_squares or 0.0,
            revenue.cross_sum or 0.0,
            errors.sum,
            errors.sum_squares,
        ]
    return totals.keys() == expected.keys() and all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
        for code in expected
        for a, b in zip(totals[code], expected[code], strict=True)
    )


async def main(args: argparse.Namespace) -> None:
    if args.lookup_ratio is not None:
        aggregation.LOOKUP_RATIO = args.lookup_ratio  # 0: always look dirty units up; huge: never
    engine = create_async_engine(args.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        events = int(await session.scalar(text("SELECT count(*) FROM events")) or 0)
    figures: dict[str, Any] = {}
    if args.incremental:
        # brings the statistics up to date, adds the new events, then one timed incremental run
        await one_run(sessions, incremental=True)
        async with sessions() as session, session.begin():
            current = await load_snapshot(session, KEY)
            assert current is not None, "run bench/results.py first"
            first = random.randint(1, max(1, sum(current.units.values()) - args.incremental))
            tag = str(int(time.time()))
            more = {"users": args.incremental, "first": first, "start": SPEC.started_at, "tag": tag}
            await session.execute(text(MORE_SQL), more)
            await session.execute(text("ANALYZE events"))
        run = await one_run(sessions, explain=args.explain, incremental=True)
        print(f"incremental run after {5 * args.incremental:,} new events: {run['wall_s']:.2f} s")
        figures |= {"incremental_new_events": 5 * args.incremental, "incremental_s": round(run["wall_s"], 3)}
    elif args.explain:
        await one_run(sessions, explain=True)
    runs = [await one_run(sessions) for _ in range(args.runs)]
    async with sessions() as session:
        stats = await load_snapshot(session, KEY)
    assert stats is not None
    if args.floor:
        walls, rows = await floor_runs(engine, sessions, max(1, args.runs))
        matches = floor_matches(rows, stats)
        print(
            f"narrow store (int4 units, first exposures given): {', '.join(f'{w:.2f}' for w in walls)} s; "
            f"equal to the stored statistics: {matches}"
        )
        figures |= {"floor_median_s": round(statistics.median(walls), 3), "floor_equals_stored": matches}
    await engine.dispose()
    if runs:
        walls = [r["wall_s"] for r in runs]
        print(f"from scratch over {events:,} events: " + ", ".join(f"{w:.2f}" for w in walls) + " s")
        figures |= {
            "runs": len(runs),
            "from_scratch_median_s": round(statistics.median(walls), 3),
            "from_scratch_min_s": round(min(walls), 3),
            "client_cpu_median_s": round(statistics.median(r["client_cpu_s"] for r in runs), 3),
        }
    print(
        json.dumps(
            {
                "bench": "aggregation",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "events": events,
                "units": sum(stats.units.values()),
                **figures,
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="timed recomputes (at least 1, or 0 with --incremental)"
    )
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--floor", action="store_true", help="also time the computation over the narrowest store (see above)"
    )
    parser.add_argument(
        "--incremental",
        type=int,
        default=0,
        help="first time one incremental run after 5 events each of N users",
    )
    parser.add_argument(
        "--lookup-ratio",
        type=int,
        default=None,
        help="override LOOKUP_RATIO for the incremental run (0: look every dirty unit up; 10**9: never)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "EXPERIMENTLY_BENCH_DATABASE_URL",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/experimently_bench_results",
        ),
    )
    arguments = parser.parse_args()
    if arguments.runs < 1 and not arguments.incremental:
        parser.error("--runs must be at least 1 (or 0 with --incremental)")
    asyncio.run(main(arguments))
