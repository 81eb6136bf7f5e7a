"""Aggregation: incremental runs (events arriving in chunks, a late earlier exposure among them) give
exactly the statistics of a recompute from scratch, and both match an independent computation."""

from __future__ import annotations

import random
from dataclasses import astuple
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from experimently.events.partitions import maintain_partitions
from experimently.events.repository import existing_partitions
from experimently.metrics import aggregation, repository
from experimently.metrics.aggregation import (
    ExperimentSpec,
    ExperimentStats,
    load_snapshot,
    recompute_from_scratch,
)
from experimently.stats.model import VariantStats
from tests.conftest import FakeClock, Harness
from tests.events.helpers import flush, post_batch

METRICS = [
    {
        "key": "converted",
        "name": "Converted (pro)",
        "kind": "binomial",
        "event_name": "purchase",
        "conditions": [{"attribute": "plan", "operator": "eq", "values": ["pro"]}],
        "attribution_window_hours": 48,
    },
    {
        "key": "revenue",
        "name": "Revenue",
        "kind": "sum",
        "event_name": "purchase",
        "cuped_pre_window_days": 7,
        "winsorize_cap": 50,
    },
    {
        "key": "order_value",
        "name": "Order value",
        "kind": "mean",
        "event_name": "purchase",
        "cuped_pre_window_days": 7,
    },
    {
        "key": "orders_per_visit",
        "name": "Orders per visit",
        "kind": "ratio",
        "event_name": "purchase",
        "denominator_event": "visit",
    },
]


def scenario(start: datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    events: list[dict[str, Any]] = []
    for u in range(40):
        user = f"u{u}"
        exposed = start + timedelta(hours=rng.randint(0, 100))
        variant = rng.choice(["control", "treatment"])
        events.append(
            {
                "name": "exposure",
                "user_id": user,
                "experiment_key": "exp",
                "variant": variant,
                "event_id": f"exposure:exp:{user}",
                "timestamp": exposed,
            }
        )
        if u % 9 == 0:  # a second exposure in the other arm, later
            other = "treatment" if variant == "control" else "control"
            events.append(
                {
                    "name": "exposure",
                    "user_id": user,
                    "experiment_key": "exp",
                    "variant": other,
                    "event_id": f"exposure2:exp:{user}",
                    "timestamp": exposed + timedelta(hours=1),
                }
            )
            # and one in that other arm 30 hours earlier: where it arrives after the two above, it moves
            # the unit's first exposure (variant, day and windows) in an incremental run
            events.append(
                {
                    "name": "exposure",
                    "user_id": user,
                    "experiment_key": "exp",
                    "variant": other,
                    "event_id": f"exposure0:exp:{user}",
                    "timestamp": exposed - timedelta(hours=30),
                }
            )
        for k in range(rng.randint(0, 4)):
            offset = timedelta(hours=rng.randint(-200, 120))
            events.append(
                {
                    "name": "purchase",
                    "user_id": user,
                    "event_id": f"p:{user}:{k}",
                    "value": rng.randint(1, 120) * 0.25,
                    "timestamp": exposed + offset,
                    "properties": {"plan": rng.choice(["pro", "free", 3])} if k % 3 else {},
                }
            )
        for k in range(rng.randint(0, 3)):
            events.append(
                {
                    "name": "visit",
                    "user_id": user,
                    "event_id": f"v:{user}:{k}",
                    "timestamp": exposed + timedelta(hours=rng.randint(0, 90)),
                }
            )
    events.append(
        {
            "name": "purchase",
            "user_id": "stranger",
            "event_id": "p:stranger",
            "value": 1.0,
            "timestamp": start + timedelta(hours=5),
        }
    )
    return events


def expected(events: list[dict[str, Any]], started: datetime) -> dict[str, Any]:
    """The statistics computed in Python straight from the scenario (independent of the SQL)."""
    first: dict[str, tuple[datetime, str, str]] = {}
    for e in events:
        if e["name"] == "exposure" and e["timestamp"] >= started:
            candidate = (e["timestamp"], e["variant"], e["event_id"])
            first[e["user_id"]] = min(first.get(e["user_id"], candidate), candidate)
    seen: dict[str, set[str]] = {}
    for e in events:
        if e["name"] == "exposure" and e["timestamp"] >= started:
            seen.setdefault(e["user_id"], set()).add(e["variant"])
    out: dict[str, Any] = {
        "converted": {},
        "revenue": {},
        "order_value": {},
        "multi": sum(len(v) > 1 for v in seen.values()),
    }
    for user, (t0, variant, _) in first.items():
        buys = [e for e in events if e["name"] == "purchase" and e["user_id"] == user]
        conv = any(
            t0 <= e["timestamp"] < t0 + timedelta(hours=48) and e.get("properties", {}).get("plan") == "pro"
            for e in buys
        )
        rev = min(50.0, sum(e["value"] for e in buys if e["timestamp"] >= t0))
        pre = min(50.0, sum(e["value"] for e in buys if t0 - timedelta(days=7) <= e["timestamp"] < t0))
        c = out["converted"].setdefault(variant, [0, 0, 0])
        c[0], c[1], c[2] = c[0] + 1, c[1] + conv, c[2] + conv
        r = out["revenue"].setdefault(variant, [0, 0.0, 0.0, 0.0, 0.0, 0.0])
        for i, x in enumerate((1, rev, rev * rev, pre, pre * pre, rev * pre)):
            r[i] += x
        after = [e["value"] for e in buys if e["timestamp"] >= t0]
        before = [e["value"] for e in buys if t0 - timedelta(days=7) <= e["timestamp"] < t0]
        if after:  # a mean metric counts only the units with a value
            v, p = sum(after) / len(after), (sum(before) / len(before) if before else 0.0)
            m = out["order_value"].setdefault(variant, [0, 0.0, 0.0, 0.0, 0.0, 0.0])
            for i, x in enumerate((1, v, v * v, p, p * p, v * p)):
                m[i] += x
    return out


def close(x: VariantStats, y: VariantStats) -> bool:
    xs, ys = astuple(x), astuple(y)
    if xs[0] != ys[0] or [v is None for v in xs] != [v is None for v in ys]:
        return False
    return [v for v in xs[1:] if v is not None] == pytest.approx(
        [v for v in ys[1:] if v is not None], rel=1e-12
    )


def assert_same(a: ExperimentStats, b: ExperimentStats) -> None:
    """Equal statistics: exactly for sums of dyadic values, to rounding for the mean metric (means of
    several values are not exact in binary, so added and retracted contributions may differ in the
    last bit from one computation)."""
    assert a.metrics.keys() == b.metrics.keys() and a.series.keys() == b.series.keys()
    for key in a.metrics:
        exact = key != "order_value"
        for variant in a.metrics[key].keys() | b.metrics[key].keys():
            x, y = a.metrics[key][variant], b.metrics[key][variant]
            assert x == y if exact else close(x, y)
        assert a.series[key].keys() == b.series[key].keys()
        for variant, points in a.series[key].items():
            other = b.series[key][variant]
            assert [p.day for p in points] == [p.day for p in other]
            for p, q in zip(points, other, strict=True):
                assert p == q if exact else close(p.stats, q.stats)


async def stored(harness: Harness) -> ExperimentStats:
    async with harness.runtime.db.transaction() as session:
        stats = await load_snapshot(session, "exp")
    assert stats is not None
    return stats


async def test_incremental__equals_from_scratch__and_independent_expectation(
    harness: Harness, fake_clock: FakeClock
) -> None:
    admin = await harness.admin()
    for metric in METRICS:
        assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    started = fake_clock.moment - timedelta(days=10)
    spec = ExperimentSpec(
        "exp", ("control", "treatment"), ("converted", "revenue", "order_value", "orders_per_visit"), started
    )

    async def provider(_session: Any) -> list[ExperimentSpec]:
        return [spec]

    harness.runtime.aggregation_specs = provider
    events = scenario(started - timedelta(days=2))
    wire = [e | {"timestamp": e["timestamp"].isoformat()} for e in events]
    late = [e for e in wire if e["event_id"] == "exposure:exp:u3"]
    late_copy = late[0] | {
        "event_id": "early:exp:u3",
        "variant": "treatment",
        "timestamp": (started + timedelta(minutes=1)).isoformat(),
    }
    key = await harness.api_key(["track"])
    chunks = [wire[: len(wire) // 3], wire[len(wire) // 3 : 2 * len(wire) // 3], wire[2 * len(wire) // 3 :]]
    for chunk in chunks:
        assert (await post_batch(harness, key, chunk)).json()["data"]["accepted"] == len(chunk)
        await flush(harness)
        assert await harness.runtime.jobs.run("metrics.aggregate")
    await post_batch(harness, key, [late_copy])  # an earlier exposure arriving late moves u3
    await flush(harness)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    incremental = await stored(harness)
    async with harness.runtime.db.transaction() as session:
        await recompute_from_scratch(session, spec)
    scratch = await stored(harness)

    assert_same(incremental, scratch)
    assert (
        incremental.units == scratch.units and incremental.multi_variant_units == scratch.multi_variant_units
    )

    events.append(late_copy | {"timestamp": started + timedelta(minutes=1)})
    want = expected(events, started)
    assert scratch.units == {v: int(want["converted"][v][0]) for v in want["converted"]}
    assert scratch.multi_variant_units == want["multi"] > 0
    for variant, (n, total, squares) in want["converted"].items():
        got = scratch.metrics["converted"][variant]
        assert (got.n, got.sum, got.sum_squares) == (n, total, squares)
        assert got.sum == got.sum_squares  # binomial: 0/1 per unit
    for variant, values in want["revenue"].items():
        got = scratch.metrics["revenue"][variant]
        assert (got.n, got.sum, got.sum_squares, got.pre_sum, got.pre_sum_squares, got.cross_sum) == tuple(
            values
        )
    for variant, values in want["order_value"].items():
        got = scratch.metrics["order_value"][variant]
        fields = (got.n, got.sum, got.sum_squares, got.pre_sum, got.pre_sum_squares, got.cross_sum)
        assert fields == pytest.approx(tuple(values), rel=1e-12)
        assert got.n < scratch.units[variant]  # units without a purchase after exposure are left out
    ratio = scratch.metrics["orders_per_visit"]["control"]
    assert ratio.denom_sum is not None and ratio.num_denom_cross is not None and ratio.pre_sum is None
    last = scratch.series["revenue"]["control"][-1].stats
    assert (last.n, last.sum) == (
        scratch.metrics["revenue"]["control"].n,
        scratch.metrics["revenue"]["control"].sum,
    )
    assert scratch.aggregated_at is not None
    exposition = (await harness.client.get("/metrics")).text
    for mode in ("full", "incremental"):
        assert f'experimently_aggregation_runs_total{{mode="{mode}"}}' in exposition


async def test_no_spec_provider__job_does_nothing(harness: Harness) -> None:
    harness.runtime.aggregation_specs = None
    assert await harness.runtime.jobs.run("metrics.aggregate")


@pytest.mark.parametrize(
    ("lookup_ratio", "prefer"),
    [(aggregation.LOOKUP_RATIO, None), (0, None), (0, "treatment")],
    ids=["as-configured", "units-looked-up", "rollout-units-looked-up"],
)
async def test_incremental_after_every_chunk__equals_a_recompute__events_in_any_order(
    harness: Harness,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    lookup_ratio: int | None,
    prefer: str | None,
) -> None:
    """The scenario's events arrive shuffled (late earlier exposures, purchases before the exposure they
    belong to) in seven chunks; after each incremental run the stored statistics equal a computation
    from scratch over the same events (a second spec reading the same exposures, kept apart).

    With ``LOOKUP_RATIO`` 0 every incremental run looks its dirty units up one by one and reads each
    unit's events once for both contributions (PostgreSQL's lateral form; SQLite has one form), also
    for a flag rollout's spec (``prefer``)."""
    monkeypatch.setattr(aggregation, "LOOKUP_RATIO", lookup_ratio)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(harness.runtime.db.engine.sync_engine, "before_cursor_execute", record)
    admin = await harness.admin()
    for metric in METRICS:
        assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    started = fake_clock.moment - timedelta(days=10)
    keys = ("converted", "revenue", "order_value", "orders_per_visit")
    spec = ExperimentSpec("exp", ("control", "treatment"), keys, started, prefer=prefer)
    shadow = ExperimentSpec("shadow", ("control", "treatment"), keys, started, subject="exp", prefer=prefer)

    async def provider(_session: Any) -> list[ExperimentSpec]:
        return [spec]

    harness.runtime.aggregation_specs = provider
    events = scenario(started - timedelta(days=2))
    wire = [e | {"timestamp": e["timestamp"].isoformat()} for e in events]
    random.Random(11).shuffle(wire)
    key = await harness.api_key(["track"])
    size = len(wire) // 7 + 1
    runs: list[ExperimentStats] = []
    for i in range(0, len(wire), size):
        chunk = wire[i : i + size]
        assert (await post_batch(harness, key, chunk)).json()["data"]["accepted"] == len(chunk)
        await flush(harness)
        assert await harness.runtime.jobs.run("metrics.aggregate")
        async with harness.runtime.db.transaction() as session:
            await recompute_from_scratch(session, shadow)
        async with harness.runtime.db.transaction() as session:
            scratch = await load_snapshot(session, "shadow")
        incremental = await stored(harness)
        assert scratch is not None
        assert_same(incremental, scratch)
        assert incremental.units == scratch.units
        assert incremental.multi_variant_units == scratch.multi_variant_units
        runs.append(incremental)
    event.remove(harness.runtime.db.engine.sync_engine, "before_cursor_execute", record)
    assert len(runs) == 7 and runs[0].units != runs[-1].units  # the statistics did move run to run
    looked_up = any("CROSS JOIN LATERAL" in statement for statement in statements)
    postgres = harness.runtime.db.dialect == "postgresql"
    if lookup_ratio == 0:  # forced: the lateral form on PostgreSQL; SQLite has none
        assert looked_up == postgres
    elif not postgres:
        assert not looked_up
    if prefer is None:
        want = expected(events, started)
        assert runs[-1].units == {v: int(want["converted"][v][0]) for v in want["converted"]}


async def test_postgres_reads_no_partition_before_the_start__sqlite_has_no_bound(
    harness: Harness, fake_clock: FakeClock
) -> None:
    """The statements of a computation bound ``occurred_at``, the partition key, by the experiment's
    start (exposures) and by the start less the longest CUPED pre-period (the metrics' events), so
    PostgreSQL never reads the daily partitions before them; without the bounds it reads them all."""
    admin = await harness.admin()
    for metric in METRICS:
        assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    dialect = harness.runtime.db.dialect
    started = fake_clock.moment - timedelta(days=3)
    if dialect == "postgresql":  # noon, 21 days after the oldest daily partition
        async with harness.runtime.db.transaction() as session:
            days = sorted(await existing_partitions(session))
        assert len(days) > 22
        started = datetime.combine(days[0] + timedelta(days=21), time(12), tzinfo=UTC)
    spec = ExperimentSpec(
        "exp", ("control", "treatment"), ("converted", "revenue", "order_value", "orders_per_visit"), started
    )

    async def plans(bounded: bool) -> tuple[str, str]:
        async with harness.runtime.db.transaction() as session:
            metrics = await aggregation._metrics_of(session, spec)
            params = aggregation._params(spec, metrics) | {"upto": 10**12}
            if bounded:
                repository._partition_bounds(params, metrics, dialect)
            scratch = "CREATE TEMP TABLE x0 (unit_id text, variant text, exposed_us bigint)"
            await session.execute(text(scratch))
            explain = "EXPLAIN" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
            out = []
            for statement in (
                repository.first_exposures(repository.ALL_UNITS, params, dialect),
                repository.metrics_statement("x0", metrics, dialect, params),
            ):
                rows = await session.execute(repository._expanding(text(f"{explain} {statement}")), params)
                out.append(" ".join(str(cells[-1]) for cells in rows))
            await session.execute(text("DROP TABLE x0"))
        return out[0], out[1]

    def partition(days_before_start: int) -> str:
        return f"events_p{(started - timedelta(days=days_before_start)):%Y%m%d}"

    exposures, events = await plans(bounded=True)
    if dialect != "postgresql":  # no partitions, no bound: the statements are as they were
        assert "occurred_at" not in exposures + events
        return
    assert partition(0) in exposures and partition(1) not in exposures
    # the longest pre-period of the metrics is 7 days (revenue, order value)
    assert partition(7) in events and partition(8) not in events and partition(20) not in events
    unbounded_exposures, unbounded_events = await plans(bounded=False)
    assert partition(1) in unbounded_exposures and partition(20) in unbounded_events


@pytest.mark.parametrize(
    ("dirty", "partitions", "looked_up"),
    [(20_000, 39, True), (60_000, 39, False), (125_000, 1, True), (200_000, 1, False)],
)
def test_looks_up__only_while_the_lookups_cost_less_than_two_computations(
    dirty: int, partitions: int, looked_up: bool
) -> None:
    """At 1M units (bench/README.md, tenth round): over 39 daily partitions with events, 20,000 dirty
    units took 4.0 s looked up against 5.8 s for the two computations, 60,000 12.2 s against 5.7 s;
    with every event in one partition the lookups won up to 12-25% of the units."""
    assert aggregation.looks_up(dirty, 1_000_000, partitions) is looked_up


def test_looks_up__lookup_ratio_overrides_the_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregation, "LOOKUP_RATIO", 0)
    assert aggregation.looks_up(1_000_000, 1, 1_000)
    monkeypatch.setattr(aggregation, "LOOKUP_RATIO", 10**9)
    assert not aggregation.looks_up(1, 1_000_000, 1)


async def test_probed_partitions__those_with_events_from_the_metrics_floor(harness: Harness) -> None:
    """What a looked-up unit's lookups descend on PostgreSQL: the partitions with rows from the start
    less the longest CUPED pre-period (7 days here) to today; empty ones and older ones do not count.
    SQLite has no partitions: 1."""
    admin = await harness.admin()
    for metric in METRICS:
        assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    keys = ("converted", "revenue", "order_value", "orders_per_visit")
    # noon five days ago: the events below fall 15, 7 and 4 days ago, inside the accepted age (30 days)
    # and the daily partitions made for today (other tests may have left older ones, for their clock)
    started = datetime.combine(datetime.now(UTC).date() - timedelta(days=5), time(12), tzinfo=UTC)
    postgres = harness.runtime.db.dialect == "postgresql"
    await maintain_partitions(harness.runtime.db, harness.runtime.settings)
    spec = ExperimentSpec("exp", ("control", "treatment"), keys, started)

    async def probed() -> int:
        async with harness.runtime.db.transaction() as session:
            metrics = await aggregation._metrics_of(session, spec)
            await session.execute(text("ANALYZE events"))
            return await repository.probed_partitions(session, aggregation._params(spec, metrics), metrics)

    if not postgres:
        assert await probed() == 1
        return
    assert await probed() == 0  # every partition analysed empty
    key = await harness.api_key(["track"])
    # before the floor (start - 7 days), inside it, and after the start (two events on one day)
    offsets = (-10, -2, 1, 1)
    batch = [
        {
            "name": "purchase",
            "user_id": f"u{i}",
            "value": 1,
            "timestamp": (started + timedelta(days=d)).isoformat(),
        }
        for i, d in enumerate(offsets)
    ]
    assert (await post_batch(harness, key, batch)).json()["data"]["accepted"] == len(batch)
    await flush(harness)
    assert await probed() == 2
