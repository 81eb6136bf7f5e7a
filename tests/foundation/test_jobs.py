"""Job outcomes: a job that raises is reported as such, so a test asserting a run cannot pass on a crash."""

from __future__ import annotations

import pytest

from experimently.jobs.runner import JobRunner
from tests.conftest import Harness


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
