"""Runs registered jobs on an interval, each under a database lease so exactly one instance runs a job
at a time (portable: a conditional UPDATE on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError

from experimently.db import Database
from experimently.jobs.models import JobLease
from experimently.jobs.outage import LoopHealth
from experimently.kit.clock import now
from experimently.kit.ids import new_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one :meth:`JobRunner.run` did: ``ok``, ``error`` (the job raised ``error``) or
    ``skipped_lease`` (another instance holds the lease). True only for ``ok``, so
    ``assert await jobs.run(name)`` fails when the job crashed."""

    job: str
    status: Literal["ok", "error", "skipped_lease"]
    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.status == "ok"

    @property
    def ran(self) -> bool:
        return self.status != "skipped_lease"

    def raise_for_error(self) -> None:
        """Re-raise the job's exception, if it raised one."""
        if self.error is not None:
            raise self.error


JOB_RUNS = Counter("experimently_jobs_runs_total", "Job runs by job and outcome", ["job", "outcome"])
JOB_DURATION = Histogram("experimently_jobs_duration_seconds", "Job run duration", ["job"])

JobFn = Callable[[], Awaitable[object]]


@dataclass
class Job:
    name: str
    interval: float
    fn: JobFn
    lease_seconds: float = 300.0
    last_started: float = field(default=-1e18)


class JobRunner:
    def __init__(self, db: Database, *, tick: float = 1.0, max_backoff: float = 15.0) -> None:
        self.db = db
        self.holder = new_id()
        self.tick = tick
        self.max_backoff = max_backoff  # the longest pause between attempts while the loop fails
        self.jobs: dict[str, Job] = {}
        self._task: asyncio.Task[None] | None = None

    def register(self, name: str, interval: float, fn: JobFn, *, lease_seconds: float = 300.0) -> None:
        self.jobs[name] = Job(name, interval, fn, lease_seconds)

    async def acquire(self, name: str, seconds: float) -> bool:
        moment = now()
        expires = moment + timedelta(seconds=seconds)
        async with self.db.transaction() as session:
            result = await session.execute(
                update(JobLease)
                .where(
                    JobLease.name == name, (JobLease.expires_at <= moment) | (JobLease.holder == self.holder)
                )
                .values(holder=self.holder, expires_at=expires)
            )
            if result.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE has rowcount
                return True
        try:
            async with self.db.transaction() as session:
                session.add(JobLease(name=name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:
            return False

    async def release(self, name: str) -> None:
        moment = now()
        async with self.db.transaction() as session:
            await session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.holder == self.holder)
                .values(expires_at=moment, last_run_at=moment)
            )

    async def run(self, name: str) -> JobOutcome:
        """Run one job now if this instance gets its lease. A job that raises is logged and counted (the
        loop goes on); the outcome says what happened and is true only when the job ran and succeeded."""
        job = self.jobs[name]
        if not await self.acquire(name, job.lease_seconds):
            JOB_RUNS.labels(name, "skipped_lease").inc()
            return JobOutcome(name, "skipped_lease")
        started = time.perf_counter()
        outcome = JobOutcome(name, "ok")
        try:
            await job.fn()
        except Exception as exc:
            outcome = JobOutcome(name, "error", exc)
            log.error("job.failed", job=name, error=repr(exc), exc_info=exc)
        finally:
            JOB_DURATION.labels(name).observe(time.perf_counter() - started)
            await self.release(name)
        JOB_RUNS.labels(name, outcome.status).inc()
        return outcome

    async def run_due(self) -> None:
        moment = time.monotonic()
        for job in self.jobs.values():
            if moment - job.last_started >= job.interval:
                job.last_started = moment
                await self.run(job.name)

    async def _loop(self) -> None:
        health = LoopHealth(base=self.tick, cap=self.max_backoff)
        while True:
            try:
                if health.failing and not await self.db.ping():
                    raise OperationalError("SELECT 1", None, ConnectionError("database unreachable"))
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await asyncio.sleep(health.failed(exc))  # logged once per outage, not once per tick
                continue
            health.succeeded()
            await asyncio.sleep(self.tick)

    def start(self) -> None:
        if self._task is None and self.jobs:
            self._task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
