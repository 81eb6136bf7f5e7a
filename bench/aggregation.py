"""Aggregation from scratch, repeated, on the database that ``bench/results.py`` filled (1M users /
10M events by default): for A/B runs of two versions of the code on the same data and load.

Run (after ``bench/results.py`` has created and filled its database):

    .venv/bin/python bench/aggregation.py --runs 5 [--database-url URL] [--explain]

To compare with another version of the code, check it out elsewhere (``git worktree add /tmp/old
<commit>``) and interleave: ``PYTHONPATH=/tmp/old/src .venv/bin/python bench/aggregation.py --runs 1``
then this tree's, and again. It only calls ``recompute_from_scratch``, which every version has.

``--explain`` loads PostgreSQL's ``auto_explain`` in the run's transaction and prints the plan with
actual timings of every statement that took more than 50 ms (one extra run, not counted): where the
time goes, step by step. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from experimently.metrics import aggregation
from experimently.metrics.aggregation import (
    ExperimentSpec,
    aggregate_experiment,
    load_snapshot,
    recompute_from_scratch,
)

KEY = "bench-results"  # as bench/results.py defines it
SPEC = ExperimentSpec(
    KEY, ("control", "treatment"), ("purchase", "revenue", "errors"), datetime(2026, 1, 1, tzinfo=UTC)
)


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
