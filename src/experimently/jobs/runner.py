"""Runs registered jobs on an interval, each under a database lease so exactly one instance runs a job
at a time (portable: a conditional UPDATE on SQLite and PostgreSQL alike).

A periodic run is also **once per interval across all processes and instances**: the lease row records
when the job last started (``last_started_at``), and the loop takes the lease only when ``interval``
has passed since then, in the same conditional UPDATE. Without it, N processes whose loops are out of
phase would each run the job once per interval (the lease only keeps them from overlapping). An
explicit :meth:`JobRunner.run` (tests, in-process callers) runs now, interval or not, and counts as
the job's run."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError, OperationalError

from experimently.db import Database
from experimently.jobs import repository
from experimently.jobs.outage import LoopHealth
from experimently.kit.clock import now
from experimently.kit.ids import new_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one :meth:`JobRunner.run` did: ``ok``, ``error`` (the job raised ``error``) or
    ``skipped_lease`` (another instance holds the lease) or ``skipped_not_due`` (a periodic run that
    another instance already made this interval). True only for ``ok``, so
    ``assert await jobs.run(name)`` fails when the job crashed."""

    job: str
    status: Literal["ok", "error", "skipped_lease", "skipped_not_due"]
    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.status == "ok"

    @property
    def ran(self) -> bool:
        return self.status not in ("skipped_lease", "skipped_not_due")

    def raise_for_error(self) -> None:
        """Re-raise the job's exception, if it raised one."""
        if self.error is not None:
            raise self.error


# The job's name is the label ``job_name``, not ``job``: Prometheus gives every scraped series the
# target's ``job`` label and would rename ours to ``exported_job`` (tests/foundation/test_deploy_metrics.py).
JOB_RUNS = Counter("experimently_jobs_runs_total", "Job runs by job and outcome", ["job_name", "outcome"])
JOB_DURATION = Histogram("experimently_jobs_duration_seconds", "Job run duration", ["job_name"])

JobFn = Callable[[], Awaitable[object]]

# How long stop() lets the step in progress finish before cancelling it (see JobRunner.stop)
STOP_GRACE_SECONDS = 5.0


@dataclass
class Job:
    name: str
    interval: float
    fn: JobFn
    lease_seconds: float = 300.0
    next_check: datetime | None = field(default=None)  # when the loop next asks for the lease


class JobRunner:
    def __init__(self, db: Database, *, tick: float = 1.0, max_backoff: float = 15.0) -> None:
        self.db = db
        self.holder = new_id()
        self.tick = tick
        self.max_backoff = max_backoff  # the longest pause between attempts while the loop fails
        self.jobs: dict[str, Job] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()  # set by stop(): ends the loop's pause at once (new per start)

    def register(self, name: str, interval: float, fn: JobFn, *, lease_seconds: float = 300.0) -> None:
        self.jobs[name] = Job(name, interval, fn, lease_seconds)

    async def acquire(self, name: str, seconds: float, *, interval: float | None = None) -> bool:
        """Take the job's lease for ``seconds``; with ``interval``, only if no instance started the job
        in the last ``interval`` seconds."""
        return await self._take(name, seconds, interval) is not None

    async def _take(self, name: str, seconds: float, interval: float | None) -> datetime | None:
        """The lease (and the start recorded on it) in one conditional UPDATE; the moment, or None."""
        moment = now()
        expires = moment + timedelta(seconds=seconds)
        due = None if interval is None else moment - timedelta(seconds=interval)
        async with self.db.transaction() as session:
            if await repository.take_lease(session, name, self.holder, moment, expires, due):
                return moment
        try:
            async with self.db.transaction() as session:
                repository.insert_lease(session, name, self.holder, moment, expires)
            return moment
        except IntegrityError:
            return None

    async def _last_started(self, name: str) -> datetime | None:
        async with self.db.sessions() as session:
            return await repository.last_started(session, name)

    async def release(self, name: str) -> None:
        async with self.db.transaction() as session:
            await repository.release_lease(session, name, self.holder, now())

    async def run(self, name: str, *, periodic: bool = False) -> JobOutcome:
        """Run one job now if this instance gets its lease (``periodic``: and if no instance started it
        within its interval). A job that raises is logged and counted (the loop goes on); the outcome
        says what happened and is true only when the job ran and succeeded."""
        job = self.jobs[name]
        started_at = await self._take(name, job.lease_seconds, job.interval if periodic else None)
        if started_at is None:
            last = await self._last_started(name) if periodic else None
            status: Literal["skipped_lease", "skipped_not_due"] = "skipped_lease"
            if last is not None and last > now() - timedelta(seconds=job.interval):
                status = "skipped_not_due"
            JOB_RUNS.labels(name, status).inc()
            job.next_check = None if last is None else last + timedelta(seconds=job.interval)
            return JobOutcome(name, status)
        job.next_check = started_at + timedelta(seconds=job.interval)
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
        """Each job whose interval has passed since it last started on any instance: one lease UPDATE
        per job and interval (a process does not ask again before the recorded start + interval)."""
        for job in self.jobs.values():
            if self._stopping:
                return
            moment, interval = now(), timedelta(seconds=job.interval)
            # (a next check more than an interval ahead means the clock went back: ask now)
            if job.next_check is None or not moment < job.next_check <= moment + interval:
                job.next_check = moment + interval  # kept if the run fails (the database is down)
                await self.run(job.name, periodic=True)

    async def _loop(self) -> None:
        health = LoopHealth(base=self.tick, cap=self.max_backoff)
        while not self._stopping:
            try:
                if health.failing and not await self.db.ping():
                    raise OperationalError("SELECT 1", None, ConnectionError("database unreachable"))
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._pause(health.failed(exc))  # logged once per outage, not once per tick
                continue
            health.succeeded()
            await self._pause(self.tick)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def start(self) -> None:
        if self._task is None and self.jobs:
            self._stopping = False
            self._wake = asyncio.Event()  # of the loop that runs it (an Event binds to its first loop)
            self._task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """End the loop: at once when it is pausing; otherwise the step in progress (a lease update,
        a job) may finish, for at most ``grace`` seconds, before it is cancelled. Cancelling a step
        at any point was safe for the data (its transaction rolls back) but not for the process: a
        step cancelled while aiosqlite was opening a connection leaves that connection's thread to
        report to an event loop that is about to close, and at interpreter exit that thread's error
        could abort the process (SIGABRT) instead of a clean exit."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _pending = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None
