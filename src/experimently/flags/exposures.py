"""Server-side flag exposures: which variation a unit was served, as ``flag_exposure`` events.

Recorded only for flags with a **guarded rollout running** in the environment (see docs/safety.md for
why): the only reader of flag exposures is the rollout monitor, and recording every evaluation of
every flag would write one event per (flag, unit, variation) for the whole user base, forever.

The evaluation hot path pays a dictionary lookup when the flag is not guarded. When it is:

- one membership test in a bounded LRU of the (environment, rollout step, unit, variation) seen by
  this instance (``capacity`` entries, oldest forgotten first), so a unit evaluated again and again is
  sent once;
- a new one becomes an event with a **deterministic id** (a hash of that tuple), appended to a buffer
  that a background task hands to the event pipeline every ``delay`` seconds. The store keeps one
  event per id, so exposures sent by several instances (or again after the LRU forgot them) are
  stored once: the aggregation counts each (rollout step, unit, variation) exactly once.

The step is part of the key, so a unit is recorded again in each step of a rollout: each step's
comparison starts afresh (``safety.rollouts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import structlog
from prometheus_client import Counter

from experimently.events.pipeline import Pipeline
from experimently.events.validation import FLAG_EXPOSURE, EventRow
from experimently.kit.clock import now, to_us

log = structlog.get_logger(__name__)
RECORDED = Counter(
    "experimently_flag_exposures_total",
    "Server-side flag exposures by outcome (queued, deduplicated, dropped)",
    ["outcome"],
)


def exposure_id(environment: str, marker: str, unit: str, variation: str) -> str:
    digest = hashlib.sha256("\x1f".join((environment, marker, unit, variation)).encode()).hexdigest()
    return f"fx_{digest[:48]}"


class ExposureRecorder:
    def __init__(self, pipeline: Pipeline, *, capacity: int = 100_000, delay: float = 0.2) -> None:
        self.pipeline = pipeline
        self.capacity = capacity
        self.delay = delay
        self._seen: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        self._buffer: list[EventRow] = []
        self._task: asyncio.Task[None] | None = None

    def record(
        self, environment: str, guarded: Mapping[str, str], flag_key: str, unit: Any, variation: str | None
    ) -> None:
        """Note that ``unit`` was served ``variation`` of ``flag_key`` (a no-op unless guarded)."""
        marker = guarded.get(flag_key)
        if marker is None or variation is None or not isinstance(unit, str | int) or isinstance(unit, bool):
            return
        key = (environment, marker, str(unit), variation)
        if key in self._seen:
            self._seen.move_to_end(key)
            RECORDED.labels("deduplicated").inc()
            return
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        moment = to_us(now())
        self._buffer.append(
            EventRow(
                exposure_id(*key),
                FLAG_EXPOSURE,
                key[2],
                environment,
                flag_key,
                variation,
                None,
                {"flag": flag_key, "variation": variation},
                moment,
                moment,
            )
        )
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self.delay)
        await self.flush()

    async def flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if not rows:
            return
        try:
            await self.pipeline.enqueue(rows)
            RECORDED.labels("queued").inc(len(rows))
        except Exception as exc:  # a full queue or an outage: exposures are dropped, never raised
            RECORDED.labels("dropped").inc(len(rows))
            log.warning("flag.exposures_dropped", count=len(rows), error=repr(exc))

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
