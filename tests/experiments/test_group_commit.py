"""Group commit of first assignments: concurrent first assignments share one write, and nothing about
the answers changes: first write wins (a stored variant is the answer, whoever computed what), one
exposure per unit and experiment (counted as submitted to ingestion, not only as stored, since the
events table would hide a duplicate behind the deterministic event id), and the same answers as one
unit at a time. On both backends; the cross-runtime test on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from experimently.events.models import Event
from experimently.experiments import repository
from experimently.experiments.group_commit import GroupCommit, Pending
from experimently.experiments.schemas import AssignmentRead, AssignRequest
from experimently.runtime import Runtime
from experimently_sdk import assign as engine_assign
from tests.conftest import PG_URL, REDIS_URL, Harness, start_harness
from tests.experiments.test_api import act, create

TARGETED = [{"attribute": "country", "operator": "in", "values": ["DE", "FR"]}]


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def exposures(
    runtime: Runtime, experiment_key: str, expected: int, *others: Runtime
) -> list[tuple[str, str | None]]:
    """The stored exposures of an experiment once ``expected`` are written (a bounded wait: the
    writers of a loaded machine may need more than one flush), never fewer for longer than 60 s."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        for r in (*others, runtime):
            await r.pipeline.flush()
        async with runtime.db.sessions() as session:
            rows = await session.execute(
                select(Event.user_id, Event.variant).where(
                    Event.name == "exposure", Event.experiment_key == experiment_key
                )
            )
            found = sorted((str(u), v) for u, v in rows.all())
        if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


async def stored(runtime: Runtime, experiment_id: str, units: list[str]) -> dict[str, str]:
    async with runtime.db.sessions() as session:
        return await repository.stored_assignments(session, experiment_id, units)


async def started(h: Harness, key: str, **extra: Any) -> dict[str, Any]:
    exp = await create(h, key, **extra)
    assert (await act(h, key, "start")).status_code == 200
    return exp


async def test_concurrent_first_assignments__one_row_and_one_exposure_per_unit(harness: Harness) -> None:
    # Given a running experiment and 60 units, each asked for 4 times at once (240 concurrent calls)
    exp = await started(harness, "gc-once")
    service = harness.runtime.assignments
    units = [f"unit-{i}" for i in range(60)]
    calls = [u for u in units for _ in range(4)]
    batches_before = metric("experimently_experiment_assignment_batch_units_count")
    ingested_before = metric("experimently_events_ingested_total")

    # When they all run concurrently
    answers = await asyncio.gather(
        *(service.assign_many(None, "production", "gc-once", [AssignRequest(unit_id=u)]) for u in calls)
    )

    # Then every call of a unit answers its one stored variant
    by_unit: dict[str, set[str | None]] = {}
    for unit, answer in zip(calls, answers, strict=True):
        by_unit.setdefault(unit, set()).add(answer[0].variant)
    rows = await stored(harness.runtime, exp["id"], units)
    assert {u: {v} for u, v in rows.items()} == by_unit
    assert len(rows) == 60
    # and they were written together, not one transaction per call
    batches = metric("experimently_experiment_assignment_batch_units_count") - batches_before
    assert 1 <= batches < 60
    # and exactly one exposure per unit was SUBMITTED (and stored), with the stored variant
    assert metric("experimently_events_ingested_total") - ingested_before == 60
    assert await exposures(harness.runtime, "gc-once", 60) == sorted(rows.items())


async def test_group_commit__same_answers_as_one_at_a_time(harness: Harness) -> None:
    # Given a targeted experiment (some units are not in it) and a mix of contexts
    exp = await started(harness, "gc-same", targeting=TARGETED, traffic_allocation=80)
    service = harness.runtime.assignments
    requests = [
        AssignRequest(unit_id=f"u{i}", context={"country": ["DE", "FR", "US"][i % 3]}) for i in range(90)
    ]
    requests.append(AssignRequest(context={"country": "DE"}))  # no unit: answered, never stored

    # When they are assigned all at once (batched), then erased and assigned one at a time
    batched = await asyncio.gather(
        *(service.assign_many(None, "production", "gc-same", [r]) for r in requests)
    )
    async with harness.runtime.db.transaction() as session:
        for i in range(90):
            await repository.delete_unit_assignments(session, f"u{i}")
    service.sticky.clear()
    one_by_one = [await service.assign_many(None, "production", "gc-same", [r]) for r in requests]

    # Then the answers are the same, and they are the engine's
    assert [b[0] for b in batched] == [o[0] for o in one_by_one]
    live = await service.experiment("gc-same")
    segments = await service._segments("production")
    for request, answer in zip(requests, batched, strict=True):
        context = {**request.context, "user_id": request.unit_id} if request.unit_id else request.context
        expected = engine_assign(live.compiled, context, segments)
        assert (answer[0].variant, answer[0].reason) == (expected.variant, str(expected.reason))
    in_experiment = [b[0].unit_id for b in batched if b[0].variant is not None and b[0].unit_id]
    assert 0 < len(in_experiment) < 90  # the targeting and the allocation both excluded some
    assert set(await stored(harness.runtime, exp["id"], [f"u{i}" for i in range(90)])) == set(in_experiment)


async def test_stored_variant_wins__over_what_this_instance_computes(harness: Harness) -> None:
    # Given units stored by somebody else with the variant the engine would NOT choose
    exp = await started(harness, "gc-wins")
    service = harness.runtime.assignments
    live = await service.experiment("gc-wins")
    units = [f"w{i}" for i in range(20)]
    other = {"control": "treatment", "treatment": "control"}
    planted = {u: other[str(engine_assign(live.compiled, {"user_id": u}).variant)] for u in units}
    async with harness.runtime.db.transaction() as session:
        rows = [
            {"experiment_id": exp["id"], "unit_id": u, "variant": v, "environment": "production"}
            for u, v in sorted(planted.items())
        ]
        assert len(await repository.insert_first_assignments(session, rows)) == 20
    ingested_before = metric("experimently_events_ingested_total")

    # When this instance (which never saw them) assigns them, concurrently, with 10 new units
    fresh = [f"fresh{i}" for i in range(10)]
    everything = await asyncio.gather(
        *(
            service.assign_many(None, "production", "gc-wins", [AssignRequest(unit_id=u)])
            for u in units * 2 + fresh
        )
    )
    answers, news = everything[:40], everything[40:]

    # Then the stored variants are the answers, sticky, and no exposure is sent for them
    expected = [AssignmentRead(experiment_key="gc-wins", unit_id=u, in_experiment=True, variant=planted[u],
                               payload=live.payloads[planted[u]], reason="STICKY", sticky=True)
                for u in units * 2]  # fmt: skip
    assert [a[0] for a in answers] == expected
    assert [n[0].reason for n in news] == ["ASSIGNED"] * 10
    assert metric("experimently_events_ingested_total") - ingested_before == 10  # the new units only
    assert await stored(harness.runtime, exp["id"], units) == planted


async def test_group_commit__bad_request_fails_alone(harness: Harness) -> None:
    # Given one request whose unit id is too long for the column, batched with good ones
    if harness.backend == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths: nothing fails there")
    exp = await started(harness, "gc-bad")
    writer = GroupCommit(harness.runtime.db, None, writers=1)
    good = [Pending(exp["id"], "gc-bad", "production", f"g{i}", "control") for i in range(5)]
    bad = Pending(exp["id"], "gc-bad", "production", "x" * 300, "control")

    # When they are written in one batch
    results = await asyncio.gather(
        *(writer.settle([p]) for p in [good[0], bad, *good[1:]]), return_exceptions=True
    )

    # Then only the bad one failed; the others were stored
    assert [isinstance(r, Exception) for r in results] == [False, True, False, False, False, False]
    assert len(await stored(harness.runtime, exp["id"], [p.unit for p in good])) == 5


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs PostgreSQL + Redis (two instances)")
@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_runtimes__race_on_the_same_units__one_winner_each(harness: Harness, tmp_path: Any) -> None:
    # Given a second instance on the same database, and both computing DIFFERENT variants (as with
    # definitions of different ages): the worst case for first write wins
    exp = await started(harness, "gc-race")
    units = [f"r{i}" for i in range(150)]
    async with start_harness("postgres", tmp_path / "second") as second:
        writers = [harness.runtime.assignments.writer, second.runtime.assignments.writer]
        ingested_before = metric("experimently_events_ingested_total")

        # When both instances write every unit at the same time, many calls each
        async def call(index: int, unit: str) -> tuple[str, int, str | None, bool]:
            variant = ["control", "treatment"][index % 2]
            pending = Pending(exp["id"], "gc-race", "production", unit, variant)
            outcome = (await writers[index % 2].settle([pending]))[pending.pair]
            return unit, index % 2, outcome.stored, outcome.first

        # the instances' unit sets overlap by half, so most batches both store some and lose some
        plan = [(0, u) for u in units[:100] for _ in range(2)] + [
            (1, u) for u in units[50:] for _ in range(2)
        ]
        plan.sort(key=lambda p: (int(p[1][1:]) % 7, p[1], p[0]))  # interleaved, deterministic
        results = await asyncio.gather(*(call(i, u) for i, u in plan))

        # Then each unit has one stored variant, every call answered it, and the calls that stored it
        # are all of ONE instance (calls of one batch share its one decision)
        rows = await stored(harness.runtime, exp["id"], units)
        assert len(rows) == 150
        storers: dict[str, set[int]] = {}
        for unit, instance, variant, first in results:
            assert variant == rows[unit]
            if first:
                storers.setdefault(unit, set()).add(instance)
        assert sorted(storers) == sorted(units)
        assert all(len(instances) == 1 for instances in storers.values())
        # and one exposure per unit was submitted, carrying the stored variant
        assert metric("experimently_events_ingested_total") - ingested_before == 150
        assert await exposures(harness.runtime, "gc-race", 150, second.runtime) == sorted(rows.items())
