"""Job outcomes: a job that raises is reported as such, so a test asserting a run cannot pass on a crash."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from experimently.db import Database
from experimently.jobs.runner import JobRunner
from experimently.kit.clock import now
from tests.conftest import FakeClock, Harness


class Boom(Exception):
    pass


async def test_run__job_raises__outcome_is_false_and_carries_the_error(harness: Harness) -> None:
    async def crash() -> None:
        raise Boom("crashed")

    harness.runtime.jobs.register("test.crash", 60, crash)
    outcome = await harness.runtime.jobs.run("test.crash")
    assert not outcome
    assert (outcome.status, outcome.ran) == ("error", True)
    assert isinstance(outcome.error, Boom)
    with pytest.raises(Boom):
        outcome.raise_for_error()
    # the lease was released despite the crash: the next run gets it again
    assert (await harness.runtime.jobs.run("test.crash")).status == "error"


async def test_run__job_succeeds__outcome_is_true(harness: Harness) -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)

    harness.runtime.jobs.register("test.work", 60, work)
    outcome = await harness.runtime.jobs.run("test.work")
    assert outcome and outcome.status == "ok" and outcome.error is None
    outcome.raise_for_error()  # nothing to raise
    assert calls == [1]


async def test_run__lease_held_elsewhere__skipped_and_false(harness: Harness) -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)

    harness.runtime.jobs.register("test.leased", 60, work)
    other = JobRunner(harness.runtime.db)
    assert await other.acquire("test.leased", 60)
    outcome = await harness.runtime.jobs.run("test.leased")
    assert not outcome
    assert (outcome.status, outcome.ran, calls) == ("skipped_lease", False, [])


async def test_run_due__several_loops__each_job_once_per_interval(
    harness: Harness, fake_clock: FakeClock
) -> None:
    """Three job loops (each with its own engine, as three processes would have) tick every second for
    ten simulated minutes against the same database, two of them at the same moments (racing for the
    lease) and one half a second later (out of phase): a 60 s job runs once per interval in total, not
    once per loop, and keeps running when one of the loops stops."""
    starts: list[tuple[datetime, int]] = []
    databases = [Database(harness.settings) for _ in range(3)]
    runners = [JobRunner(db) for db in databases]
    for index, runner in enumerate(runners):

        async def work(index: int = index) -> None:
            starts.append((now(), index))
            await asyncio.sleep(0)  # let the other loops try meanwhile

        runner.register("test.periodic", 60, work)
    origin = fake_clock.moment
    try:
        for step in range(1200):  # half seconds
            # loops 0 and 2 tick on whole seconds, loop 1 on half seconds; loop 0 stops half-way
            alive = [r for i, r in enumerate(runners) if (step + i) % 2 == 0 and (i or step < 600)]
            await asyncio.gather(*(runner.run_due() for runner in alive))
            fake_clock.advance(seconds=0.5)
    finally:
        for db in databases:
            await db.engine.dispose()
    offsets = [(moment - origin).total_seconds() for moment, _ in starts]
    assert offsets == [60.0 * k for k in range(10)]
    assert all(index != 0 for moment, index in starts if moment - origin >= timedelta(seconds=300))
    # an explicit run still runs at once, interval or not
    assert await runners[1].run("test.periodic") and len(starts) == 11
