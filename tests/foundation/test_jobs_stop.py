"""Stopping the job loop: at once while it pauses; a step in progress may finish (within a grace)
instead of being cancelled at an arbitrary await; past the grace it is cancelled."""

from __future__ import annotations

import asyncio
import time

from experimently.jobs.runner import JobRunner
from tests.conftest import Harness


async def test_idle_loop__stops_at_once_even_with_a_long_tick(harness: Harness) -> None:
    runner = JobRunner(harness.runtime.db, tick=30.0)
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    runner.register("test.idle", 3600, work)
    runner.start()
    await asyncio.wait_for(ran.wait(), 10)
    await asyncio.sleep(0.05)  # the loop is now in its 30-second pause
    started = time.perf_counter()
    await runner.stop()
    assert time.perf_counter() - started < 1.0


async def test_job_in_progress__finishes_and_releases_its_lease_before_the_loop_ends(
    harness: Harness,
) -> None:
    runner = JobRunner(harness.runtime.db, tick=0.01)
    entered, finished = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        entered.set()
        await asyncio.sleep(0.3)
        finished.set()

    runner.register("test.busy", 3600, work)
    runner.start()
    await asyncio.wait_for(entered.wait(), 10)
    await runner.stop()
    assert finished.is_set()  # not cancelled at its await
    # its lease was released on the way out: another runner takes it at once
    assert await JobRunner(harness.runtime.db).acquire("test.busy", 60)


async def test_job_past_the_grace__cancelled(harness: Harness) -> None:
    runner = JobRunner(harness.runtime.db, tick=0.01)
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner.register("test.stuck", 3600, stuck)
    runner.start()
    await asyncio.wait_for(entered.wait(), 10)
    started = time.perf_counter()
    await runner.stop(grace=0.2)
    assert cancelled.is_set()
    assert time.perf_counter() - started < 5.0


async def test_stopped_runner__starts_again(harness: Harness) -> None:
    runner = JobRunner(harness.runtime.db, tick=0.01)
    runs: list[int] = []

    async def work() -> None:
        runs.append(1)

    runner.register("test.again", 0.01, work)
    runner.start()
    await asyncio.sleep(0.2)
    await runner.stop()
    before = len(runs)
    runner.start()
    await asyncio.sleep(0.2)
    await runner.stop()
    assert before >= 1 and len(runs) > before
