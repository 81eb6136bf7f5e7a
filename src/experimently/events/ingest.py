"""``events.ingest``: validate a list of events one by one and hand the good ones to the pipeline.

Used by the HTTP endpoints and, in-process, by the experiments domain to record exposures (an
``exposure`` event with ``experiment_key``, ``variant``, ``user_id`` and a deterministic ``event_id``
such as ``exposure:{experiment}:{unit}``, so a repeated exposure is stored once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.config import Settings
from experimently.degraded import dependency_of
from experimently.encryption.keyring import keyring_of
from experimently.events import repository
from experimently.events.health import IngestHealth
from experimently.events.pii import protect
from experimently.events.pipeline import Pipeline
from experimently.events.validation import (
    FLAG_EXPOSURE,
    EventRow,
    Rejected,
    flag_exposure,
    validate_event,
)
from experimently.kit.clock import now, to_us

INGESTED = Counter("experimently_events_ingested_total", "Events accepted by the API")
WRITTEN_DIRECTLY = Counter(
    "experimently_events_written_directly_total",
    "Events written in the caller's transaction because the queue was unreachable",
)
REJECTED = Counter("experimently_events_rejected_total", "Events refused by validation", ["field"])


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)

    def as_dict(self, *, ids: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"accepted": self.accepted, "rejected": self.rejected}
        if ids:
            body["event_ids"] = self.event_ids
        return body


class EventIngest:
    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.health = IngestHealth()  # accepted / rejected counts for GET /events/health

    def validate(
        self, events: list[Any], environment: str | None
    ) -> tuple[list[EventRow], list[dict[str, Any]]]:
        received = to_us(now())
        rows: list[EventRow] = []
        rejected: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            try:
                row = validate_event(
                    event, environment=environment, received_us=received, settings=self.settings
                )
                rows.append(flag_exposure(row) if row.name == FLAG_EXPOSURE else row)
            except Rejected as exc:
                REJECTED.labels(exc.path or "event").inc()
                self.health.rejected(f"{exc.path or 'event'}: {exc.reason}")
                rejected.append({"index": index, "path": exc.path, "reason": exc.reason})
        pii = self.settings.pii_for(environment) if self.settings.pii_properties else None
        if pii and rows:
            rows = protect(rows, pii, keyring_of(self.settings))
        return rows, rejected

    async def submit(
        self,
        events: list[dict[str, Any]],
        *,
        environment: str | None,
        fallback_session: AsyncSession | None = None,
    ) -> IngestResult:
        """Accept the valid events (all or, when the queue is full, none: ``ServiceUnavailable``).

        ``fallback_session``: a caller that already holds a database transaction (an assignment
        storing its exposures) has the rows written in that transaction when the queue's dependency
        (Redis) is unreachable, so the exposure commits or rolls back with the assignment itself."""
        rows, rejected = self.validate(events, environment)
        await self._accept(rows, fallback_session)
        return IngestResult(len(rows), rejected, [r.event_id for r in rows])

    async def submit_groups(
        self,
        groups: list[tuple[str | None, list[dict[str, Any]]]],
        *,
        fallback_session: AsyncSession | None = None,
    ) -> int:
        """:meth:`submit` for events of several environments at once (``(environment, events)``
        pairs): one enqueue, or one write in ``fallback_session`` (a transaction's second write would
        store its keys under the writers' lock, see ``events.repository``). Returns how many were
        accepted."""
        rows: list[EventRow] = []
        for environment, events in groups:
            rows.extend(self.validate(events, environment)[0])
        await self._accept(rows, fallback_session)
        return len(rows)

    async def _accept(self, rows: list[EventRow], fallback_session: AsyncSession | None) -> None:
        if not rows:
            return
        try:
            await self.pipeline.enqueue(rows)
        except Exception as exc:
            if fallback_session is None or dependency_of(exc) is None:
                self.health.rejected("queue full or unavailable (503, retried by clients)", len(rows))
                raise
            await repository.insert_batch(fallback_session, rows)
            WRITTEN_DIRECTLY.inc(len(rows))
        INGESTED.inc(len(rows))
        self.health.accepted(len(rows))
