"""Group commit of first assignments: the first assignments that arrive while a write is in flight go
to the database together, in ONE ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` plus one read of
the pairs somebody else stored first, with their exposure events in one ingestion append, in one
transaction.

There is no timer: a request that finds a free writer is written at once (no added latency when
idle); under load the queue that forms behind the busy writers is the batch. "First write wins" is
the database's: a pair already stored (by this batch's rivals, another instance or an older run) is
never overwritten, and its stored variant is the answer. Only the batch that stored a pair sends its
exposure, so one unit has one exposure per experiment even across processes (the deterministic
event id dedupes a retry too)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.db import Database
from experimently.degraded import dependency_of
from experimently.events.ingest import EventIngest
from experimently.experiments import repository
from experimently.kit.clock import now
from experimently_sdk.ids import exposure_id

log = structlog.get_logger(__name__)
BATCH_UNITS = Histogram(
    "experimently_experiment_assignment_batch_units",
    "Units per group commit of first assignments",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
)

Pair = tuple[str, str]  # (experiment_id, unit_id)


@dataclass(frozen=True, slots=True)
class Pending:
    """A unit the caller has no stored assignment for: ``variant`` is what the engine chose (None: not
    in the experiment, stored only if somebody stored it before)."""

    experiment_id: str
    experiment_key: str
    environment: str
    unit: str
    variant: str | None

    @property
    def pair(self) -> Pair:
        return (self.experiment_id, self.unit)


@dataclass(frozen=True, slots=True)
class Outcome:
    """``stored``: the unit's stored variant after the write (None: none); ``first``: this write
    stored it (the caller's first assignment, exposure sent)."""

    stored: str | None
    first: bool


_Waiter = tuple[Sequence[Pending], "asyncio.Future[dict[Pair, Outcome]]"]


class GroupCommit:
    """Writes first assignments in batches, at most ``writers`` transactions at a time (each holds
    one pooled connection). ``max_units``: a batch takes waiting requests until it holds this many
    units (a request is never split)."""

    def __init__(
        self, db: Database, ingest: EventIngest | None, *, writers: int = 2, max_units: int = 2000
    ) -> None:
        self.db = db
        self.ingest = ingest
        self.writers = writers
        self.max_units = max_units
        self._queue: deque[_Waiter] = deque()
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def settle(self, pending: Sequence[Pending]) -> dict[Pair, Outcome]:
        """Store what is not stored yet; the outcome of every pending pair."""
        future: asyncio.Future[dict[Pair, Outcome]] = asyncio.get_running_loop().create_future()
        self._queue.append((pending, future))
        if self._busy < self.writers:
            self._busy += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._take()
                try:
                    outcomes = await self._write([p for pending, _ in batch for p in pending])
                except Exception as exc:
                    await self._failed(batch, exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(outcomes)
        finally:
            self._busy -= 1

    def _take(self) -> list[_Waiter]:
        batch = [self._queue.popleft()]
        units = len(batch[0][0])
        while self._queue and units + len(self._queue[0][0]) <= self.max_units:
            units += len(self._queue[0][0])
            batch.append(self._queue.popleft())
        return batch

    async def _failed(self, batch: list[_Waiter], exc: Exception) -> None:
        """An outage fails the whole batch (the callers answer 503). Any other error is retried one
        request at a time, so one bad request cannot fail the others written with it."""
        if len(batch) == 1 or dependency_of(exc) is not None:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        log.warning("experiment.assignment_batch_failed", error=repr(exc), requests=len(batch))
        for pending, future in batch:
            try:
                outcome = await self._write(pending)
            except Exception as one:
                if not future.done():
                    future.set_exception(one)
            else:
                if not future.done():
                    future.set_result(outcome)

    async def _write(self, pending: Sequence[Pending]) -> dict[Pair, Outcome]:
        wanted: dict[Pair, Pending] = {}
        for p in pending:
            wanted.setdefault(p.pair, p)  # one unit twice in a batch: one decision
        BATCH_UNITS.observe(len(wanted))
        moment = now()
        rows = [
            {
                "experiment_id": p.experiment_id,
                "unit_id": p.unit,
                "variant": p.variant,
                "environment": p.environment,
                "assigned_at": moment,
            }
            for pair, p in sorted(wanted.items())  # one lock order for every batch
            if p.variant is not None
        ]
        async with self.db.transaction() as session:
            stored_now = await repository.insert_first_assignments(session, rows)
            before = await repository.stored_pairs(session, [k for k in wanted if k not in stored_now])
            if self.ingest is not None and stored_now:
                await self._expose(session, [wanted[k] for k in sorted(stored_now)], moment.isoformat())
        return {
            pair: Outcome(p.variant, True) if pair in stored_now else Outcome(before.get(pair), False)
            for pair, p in wanted.items()
        }

    async def _expose(self, session: AsyncSession, stored: Sequence[Pending], timestamp: str) -> None:
        assert self.ingest is not None
        by_environment: dict[str, list[dict[str, Any]]] = {}
        for p in stored:
            event = exposure_event(p.experiment_key, p.unit, str(p.variant), timestamp)
            by_environment.setdefault(p.environment, []).append(event)
        # Redis unreachable: the exposures are written in this transaction, with the assignments
        # (in one write, see EventIngest.submit_groups)
        await self.ingest.submit_groups(list(by_environment.items()), fallback_session=session)


def exposure_event(experiment_key: str, unit: str, variant: str, timestamp: str) -> dict[str, Any]:
    return {
        "event_id": exposure_id(experiment_key, unit),
        "name": "exposure",
        "user_id": unit,
        "experiment_key": experiment_key,
        "variant": variant,
        "timestamp": timestamp,
    }
