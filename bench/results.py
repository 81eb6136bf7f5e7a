"""Experiment results at scale on PostgreSQL: 1,000,000 users and 10,000,000 events.

Budgets (issue 6): aggregation from scratch <= 10 s on a 2-core machine; the results endpoint, from
the aggregates, P50 <= 100 ms with each of the three engines and CUPED on.

Run: .venv/bin/python bench/results.py [--users 1000000] [--layout arrival|by-user] [--database-url URL]

It recreates a separate database (default ``experimently_bench_results`` on 127.0.0.1:5432, never the
test database), applies the migrations, defines three metrics (a conversion, revenue per user with a
14-day CUPED pre-period, and an error count as a guardrail), starts a 50/50 experiment, and generates the
events in SQL: one exposure per user over 30 days, and nine more events per user on average
(purchases after exposure, purchases in the pre-period, errors): 10,000,000 events at 1M users.

The events are laid out as a deployment's are (``--layout arrival``, the default): in the daily
partitions of their day, in the order of their time (so ``seq`` follows time and one unit's events
are spread over the days, among everyone else's). ``--layout by-user`` is the layout of the figures
before 6 December 2026: every event in the default partition, each user's events next to each other,
which flatters every plan that groups by unit (measured: from scratch 6.7 s by user, 13 s in arrival
order, bench/README.md). Then it
times the aggregation from scratch; an incremental run after 100,000 more events from 20,000 of the
users (and checks that its statistics equal a second computation from scratch); and the results
endpoint through the ASGI app, cold (recomputed from the stored statistics each call) and warm (served
from the cache). The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text, update

from experimently import migrate
from experimently.actor import SYSTEM
from experimently.app import create_app
from experimently.bootstrap import bootstrap
from experimently.config import Settings
from experimently.events.repository import create_partition
from experimently.experiments import service as experiments
from experimently.experiments.models import Experiment
from experimently.experiments.schemas import ExperimentCreate, Variant
from experimently.metrics import service as metrics
from experimently.metrics.aggregation import (
    ExperimentSpec,
    aggregate_experiment,
    load_snapshot,
    recompute_from_scratch,
)
from experimently.metrics.schemas import MetricCreate
from experimently.runtime import build_runtime

KEY = "bench-results"
ADMIN = ("bench@example.com", "bench-password-123456")
START = datetime(2026, 1, 1, tzinfo=UTC)

EVENTS_SQL = """
INSERT INTO events (event_id, name, user_id, environment, experiment_key, variant, value, properties,
                    occurred_at, ts_us, received_at)
SELECT e.event_id, e.name, 'u' || g, 'production', e.experiment_key, e.variant, e.value, '{}'::jsonb,
       e.at, (extract(epoch FROM e.at) * 1000000)::bigint, now()
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
CROSS JOIN LATERAL (
  SELECT CAST(:start AS timestamptz) + (g % 30) * interval '1 day'
         + (g % 80000) * interval '1 second' AS exposed,
         CASE WHEN g % 2 = 0 THEN 'control' ELSE 'treatment' END AS arm
) u
CROSS JOIN LATERAL (
  SELECT 'x' || g AS event_id, 'exposure' AS name, CAST(:key AS text) AS experiment_key, u.arm AS variant,
         NULL::float8 AS value, u.exposed AS at
  UNION ALL
  SELECT 'p' || g || '-' || k, 'purchase', NULL, NULL, 5 + (g * 7 + k * 13) % 50 + (u.arm = 'treatment')::int,
         u.exposed + k * interval '7 hours'
  FROM generate_series(1, 3 + (g % 2)) AS k
  UNION ALL
  SELECT 'q' || g || '-' || k, 'purchase', NULL, NULL, 5 + (g * 11 + k) % 50,
         u.exposed - k * interval '2 days'
  FROM generate_series(1, 3) AS k
  UNION ALL
  SELECT 'r' || g || '-' || k, 'error', NULL, NULL, NULL, u.exposed + k * interval '3 hours'
  FROM generate_series(1, 2 + (g % 2)) AS k
) e
"""


async def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0].replace("postgresql+asyncpg", "postgresql") + "/postgres"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def define(runtime: Any) -> None:
    async with runtime.db.transaction() as session:
        for body in (
            MetricCreate(key="purchase", name="Purchase", kind="binomial", event_name="purchase"),
            MetricCreate(
                key="revenue", name="Revenue", kind="sum", event_name="purchase", cuped_pre_window_days=14
            ),
            MetricCreate(key="errors", name="Errors", kind="count", event_name="error", direction="lower"),
        ):
            await metrics.create(session, SYSTEM, body)
        variants = [Variant(key="control", weight=50, is_control=True), Variant(key="treatment", weight=50)]
        create = ExperimentCreate(
            key=KEY,
            name="bench",
            variants=variants,
            primary_metric="purchase",
            secondary_metrics=["revenue"],
            guardrail_metrics=["errors"],
        )
        await experiments.create(session, runtime.cache, SYSTEM, create)
        await experiments.transition(session, runtime.cache, SYSTEM, KEY, "start", None)
        await session.execute(update(Experiment).where(Experiment.key == KEY).values(started_at=START))


# the days the events fall on: the pre-period (6 days before the first exposure) to the more events
# of ``incremental`` (40 days after the start) and bench/aggregation.py's (the same day, + 5 hours)
FIRST_DAY, LAST_DAY = START.date() - timedelta(days=7), START.date() + timedelta(days=41)


async def generate(runtime: Any, users: int, layout: str) -> tuple[int, float]:
    started = time.perf_counter()
    if layout == "by-user":  # every event in the default partition, each user's next to each other
        step = 100_000
        for lo in range(1, users + 1, step):
            async with runtime.db.transaction() as session:
                await session.execute(
                    text(EVENTS_SQL), {"lo": lo, "hi": min(lo + step - 1, users), "start": START, "key": KEY}
                )
    else:  # as the writers leave them: each day in its partition, in the order of time (and of seq)
        async with runtime.db.transaction() as session:
            day = FIRST_DAY
            while day <= LAST_DAY:
                await create_partition(session, day)
                day += timedelta(days=1)
        async with runtime.db.transaction() as session:
            await session.execute(text("SET LOCAL work_mem = '1GB'"))  # the sort of every event by time
            params = {"lo": 1, "hi": users, "start": START, "key": KEY}
            await session.execute(text(EVENTS_SQL.rstrip() + "\nORDER BY e.at, e.event_id"), params)
    async with runtime.db.transaction() as session:
        await session.execute(text("ANALYZE events"))
        total = int(await session.scalar(text("SELECT count(*) FROM events")) or 0)
    return total, time.perf_counter() - started


SPEC = ExperimentSpec(KEY, ("control", "treatment"), ("purchase", "revenue", "errors"), START)

MORE_SQL = """
INSERT INTO events (event_id, name, user_id, environment, value, properties, occurred_at, ts_us, received_at)
SELECT 'm' || g || '-' || k, CASE WHEN k = 5 THEN 'error' ELSE 'purchase' END, 'u' || g, 'production',
       CASE WHEN k = 5 THEN NULL ELSE 1 + (g + k) % 20 END, '{}'::jsonb, t.at,
       (extract(epoch FROM t.at) * 1000000)::bigint, now()
FROM generate_series(1, :users) AS g CROSS JOIN generate_series(1, 5) AS k
CROSS JOIN LATERAL (SELECT CAST(:start AS timestamptz) + interval '40 days' + k * interval '1 hour' AS at) t
"""


async def aggregate(runtime: Any) -> float:
    started = time.perf_counter()
    async with runtime.db.transaction() as session:
        await recompute_from_scratch(session, SPEC)
    return time.perf_counter() - started


async def incremental(runtime: Any) -> dict[str, Any]:
    """100,000 more events from 20,000 known users, one incremental run, then a check against a second
    computation from scratch."""
    async with runtime.db.transaction() as session:
        await session.execute(text(MORE_SQL), {"users": 20_000, "start": START})
        await session.execute(text("ANALYZE events"))
    started = time.perf_counter()
    async with runtime.db.transaction() as session:
        await aggregate_experiment(session, SPEC)
    seconds = time.perf_counter() - started
    async with runtime.db.transaction() as session:
        incremental_stats = await load_snapshot(session, KEY)
    again = await aggregate(runtime)
    async with runtime.db.transaction() as session:
        scratch_stats = await load_snapshot(session, KEY)
    assert incremental_stats is not None and scratch_stats is not None
    same = (
        incremental_stats.metrics == scratch_stats.metrics
        and incremental_stats.series == scratch_stats.series
        and incremental_stats.units == scratch_stats.units
    )
    return {"incremental_100k_events_s": seconds, "recompute_s": again, "incremental_equals_scratch": same}


async def endpoint(runtime: Any, settings: Settings, calls: int) -> dict[str, float]:
    app = create_app(settings, runtime=runtime)
    figures: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            token = await client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            for engine in ("frequentist", "sequential", "bayesian"):
                for mode in ("cold", "warm"):
                    times = []
                    for _ in range(calls):
                        if mode == "cold":
                            runtime.cache._l1.clear()  # recompute from the aggregates every call
                        began = time.perf_counter()
                        response = await client.get(
                            f"/api/v1/experiments/{KEY}/results",
                            params={"engine": engine, "cuped": "true"},
                            headers=headers,
                        )
                        times.append(time.perf_counter() - began)
                        response.raise_for_status()
                    figures[f"results_{engine}_{mode}_p50_ms"] = statistics.median(times) * 1000
            body = response.json()["data"]
            revenue = next(m for m in body["metrics"] if m["metric_key"] == "revenue")["comparisons"][0]
            figures["cuped_variance_reduction"] = revenue.get("cuped_variance_reduction") or 0.0
            figures["units_total"] = sum(body["units"].values())
    return figures


async def main(args: argparse.Namespace) -> None:
    await recreate_database(args.database_url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=args.database_url,
            data_dir=Path(tmp),
            secret_key="b" * 48,
            encryption_keys="YmVuY2gtZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc4OWE=",  # 32 bytes, base64
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
            run_jobs=False,
            access_log=False,
            log_level="WARNING",
        ).resolve()
        runtime = build_runtime(settings)
        await migrate.upgrade(runtime.db.engine)
        await bootstrap(runtime, apply_migrations=False)
        await define(runtime)
        total, generated_in = await generate(runtime, args.users, args.layout)
        print(f"generated {total:,} events for {args.users:,} users in {generated_in:.1f} s ({args.layout})")
        seconds = await aggregate(runtime)
        print(f"aggregation from scratch: {seconds:.2f} s (budget <= 10 s)")
        more = await incremental(runtime)
        same = more["incremental_equals_scratch"]
        print(
            f"incremental run after 100,000 more events: {more['incremental_100k_events_s']:.2f} s; "
            f"equals a recompute from scratch ({more['recompute_s']:.2f} s): {same}"
        )
        figures = await endpoint(runtime, settings, args.calls)
        for name, value in figures.items():
            print(f"{name}: {value:,.3f}")
    print(
        json.dumps(
            {
                "bench": "results",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "users": args.users,
                "layout": args.layout,
                "events": total,
                "aggregation_from_scratch_s": round(seconds, 3),
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in more.items()},
                **{k: round(v, 3) for k, v in figures.items()},
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument(
        "--layout",
        choices=("arrival", "by-user"),
        default="arrival",
        help="events in daily partitions in time order (as stored), or by user in the default partition",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "EXPERIMENTLY_BENCH_DATABASE_URL",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/experimently_bench_results",
        ),
    )
    asyncio.run(main(parser.parse_args()))
