"""The job loop through a PostgreSQL outage: one warning when it goes down, a capped exponential
backoff instead of a retry (and an error line) every tick, one line when it is back with the outage's
length, and the jobs run again. A private PostgreSQL is stopped and started under a running loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from structlog.testing import CapturingLogger

from experimently.db import Database
from experimently.jobs import outage
from experimently.jobs.outage import LoopHealth
from experimently.jobs.runner import JobRunner
from tests.conftest import make_settings
from tests.private_services import available, fresh_schema, private_postgres


def _events(logger: CapturingLogger) -> list[tuple[str, str, dict[str, object]]]:
    return [(call.method_name, str(call.args[0]), call.kwargs) for call in logger.calls]


async def _until(predicate: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.skipif(not available(), reason="needs initdb on PATH")
async def test_postgres_outage__logged_once_each_way__backs_off__jobs_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = CapturingLogger()
    monkeypatch.setattr(outage, "log", logger)
    with private_postgres() as pg:
        await fresh_schema(pg.url)
        db = Database(make_settings("sqlite", tmp_path, database_url=pg.url))
        runner = JobRunner(db, tick=0.05, max_backoff=0.4)
        runs: list[float] = []

        async def work() -> None:
            runs.append(time.monotonic())

        runner.register("test.outage", 0.05, work, lease_seconds=5)
        runner.start()
        try:
            await _until(lambda: len(runs) >= 3, 30)
            # When PostgreSQL stops for a while
            await asyncio.to_thread(pg.stop)
            stopped_at = len(runs)
            await asyncio.sleep(3.0)
            # Then the loop said so once, with the dependency, and did not log once per tick
            assert len(runs) == stopped_at
            waiting = [e for e in _events(logger) if e[1] == "jobs.loop_waiting"]
            assert len(waiting) == 1 and waiting[0][0] == "warning"
            assert waiting[0][2]["dependency"] == "database"
            assert _events(logger) == waiting  # nothing else: no error line per attempt
            # When it is back, one line with the outage's length, and the job runs again
            await asyncio.to_thread(pg.start)
            await _until(lambda: len(runs) >= stopped_at + 3, 30)
            recovered = [e for e in _events(logger) if e[1] == "jobs.loop_recovered"]
            assert len(recovered) == 1 and recovered[0][0] == "info"
            assert float(str(recovered[0][2]["outage_seconds"])) >= 3.0
            assert len(_events(logger)) == 2
        finally:
            await runner.stop()
            await db.dispose()


def test_backoff__doubles_to_the_cap_with_jitter__resets_on_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "log", structlog.testing.CapturingLogger())
    health = LoopHealth(base=1.0, cap=8.0)
    delays = [health.failed(ConnectionError("refused")) for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    health.succeeded()
    assert not health.failing
    assert 0.5 <= health.failed(ConnectionError("refused")) <= 1.0


def test_not_an_outage__logged_as_an_error_once_with_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = CapturingLogger()
    monkeypatch.setattr(outage, "log", logger)
    health = LoopHealth(base=1.0, cap=8.0)
    for _ in range(3):
        health.failed(ValueError("a defect"))
    assert [(c.method_name, c.args[0]) for c in logger.calls] == [("error", "jobs.loop_failing")]
    assert isinstance(logger.calls[0].kwargs["exc_info"], ValueError)
