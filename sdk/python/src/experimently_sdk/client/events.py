"""Events from the application to the server, off the caller's thread.

``track()`` appends a tuple to a bounded deque (no I/O, no formatting); one sender thread batches by
size and time, posts to ``/api/v1/events/batch`` and retries 429, 5xx and network errors with
exponential backoff, full jitter and the server's ``Retry-After``. A batch stays at the head of the
queue until it is accepted, so nothing is lost while it fits in the buffer; beyond the buffer new
events are dropped and counted (``dropped``).

Exposures are deduplicated per (kind, key, unit, variant) in a bounded table (oldest entries forgotten
first), so a long-running process never grows without bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from experimently_sdk.ids import time_ordered_id

log = logging.getLogger("experimently_sdk")

MAX_BATCH = 1_000  # the server's limit per request

# (event_id or None, name, user_id, value, properties, experiment_key, variant, unix time)
Queued = tuple[str | None, str, str, float | None, dict[str, Any] | None, str | None, str | None, float]


class Dedup:
    """Seen keys, bounded: beyond ``capacity`` the oldest are forgotten (then sent again, harmlessly:
    exposure ids are deterministic, so the server stores each exposure once)."""

    __slots__ = ("_capacity", "_seen")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: dict[tuple[str, str, str, str], None] = {}

    def first(self, key: tuple[str, str, str, str]) -> bool:
        seen = self._seen
        if key in seen:
            return False
        seen[key] = None
        if len(seen) > self._capacity:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread trimmed it
                del seen[next(iter(seen))]
        return True


def flag_exposure_id(environment: str, marker: str, unit: str, variation: str) -> str:
    """The id the server gives a flag exposure (``experimently.flags.exposures``): a hash of the
    environment, the guarded rollout's step marker, the unit and the variation."""
    digest = hashlib.sha256("\x1f".join((environment, marker, unit, variation)).encode()).hexdigest()
    return f"fx_{digest[:48]}"


def retry_delay(attempt: int, retry_after: str | None, base: float, cap: float) -> float:
    """Full-jitter exponential backoff, never shorter than the server's ``Retry-After`` (seconds)."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    if retry_after:
        with contextlib.suppress(ValueError):
            delay = max(delay, min(float(retry_after), 300.0))
    return delay


class EventProcessor:
    def __init__(
        self,
        post: Callable[[list[dict[str, Any]]], httpx.Response],
        *,
        capacity: int,
        batch_size: int,
        flush_interval: float,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        self._post = post
        self.capacity = capacity
        self.batch_size = min(batch_size, MAX_BATCH)
        self.flush_interval = flush_interval
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.dropped = 0
        self.refused = 0  # of ``dropped``: events the server refused (a 4xx batch, or one by one)
        self.sent = 0
        self._queue: deque[Queued] = deque()
        self._inflight: list[dict[str, Any]] = []  # the batch being sent, kept until accepted
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._stopping = False
        self._deadline: float | None = None  # while closing: give up retrying after this moment
        self._thread = threading.Thread(target=self._run, name="experimently-events", daemon=True)
        self._thread.start()

    def add(self, item: Queued) -> None:
        """The caller's side: one append (thread-safe on a deque), no I/O."""
        queue = self._queue
        if len(queue) >= self.capacity:
            self.dropped += 1
            return
        queue.append(item)
        if len(queue) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight)

    def flush(self, timeout: float) -> bool:
        """Send everything queued now; True when the queue was emptied within ``timeout`` and the
        server refused none of it."""
        end = time.monotonic() + timeout
        refused = self.refused
        self._wake.set()
        with self._idle:
            while self.pending:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return self.refused == refused

    def close(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(max(0.0, self._deadline - time.monotonic()) + 0.1)
        if self.pending:
            log.warning("experimently: %d events not sent at close (server unreachable)", self.pending)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            while self._queue or self._inflight:
                if not self._inflight:
                    self._inflight = [_encode(self._queue.popleft()) for _ in range(self._batch())]
                if not self._send(self._inflight):
                    break
                self.sent += len(self._inflight)
                self._inflight = []
            with self._idle:
                self._idle.notify_all()

    def _refuse(self, count: int) -> None:
        self.dropped += count
        self.refused += count

    def _batch(self) -> int:
        return min(len(self._queue), self.batch_size)

    def _send(self, batch: list[dict[str, Any]]) -> bool:
        """Post ``batch`` until accepted (True) or until closing gives up (False)."""
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self._post(batch)
                if response.status_code < 300:
                    rejected = _rejected(response)
                    if rejected:
                        log.warning(
                            "experimently: the server refused %d events: %s", len(rejected), rejected[:3]
                        )
                        self._refuse(len(rejected))
                    return True
                if response.status_code != 429 and response.status_code < 500:
                    log.error(
                        "experimently: events refused with %s (%s); %d events dropped",
                        response.status_code,
                        error_message(response),
                        len(batch),
                    )
                    self._refuse(len(batch))
                    return True
                retry_after = response.headers.get("retry-after")
                log.info("experimently: events got %s; retrying", response.status_code)
            except httpx.HTTPError as exc:
                log.info("experimently: events not sent (%r); retrying", exc)
            except Exception:  # never let the sender thread die
                log.exception("experimently: unexpected error sending events")
            delay = retry_delay(attempt, retry_after, self.retry_base, self.retry_cap)
            attempt += 1
            if self._deadline is not None and time.monotonic() + delay > self._deadline:
                return False
            if self._stopping:
                return False
            time.sleep(delay)


def error_message(response: httpx.Response) -> str:
    """The server's message from its error envelope, else the status's reason."""
    try:
        message = response.json()["error"]["message"]
    except Exception:
        return response.reason_phrase or "no message"
    return str(message)


def _rejected(response: httpx.Response) -> list[Any]:
    try:
        rejected = response.json()["data"]["rejected"]
    except Exception:
        return []
    return rejected if isinstance(rejected, list) else []


def _encode(item: Queued) -> dict[str, Any]:
    event_id, name, user_id, value, properties, experiment_key, variant, moment = item
    event: dict[str, Any] = {
        "event_id": event_id or time_ordered_id(),
        "name": name,
        "user_id": user_id,
        "timestamp": datetime.fromtimestamp(moment, UTC).isoformat(),
    }
    if value is not None:
        event["value"] = value
    if properties:
        event["properties"] = properties
    if experiment_key is not None:
        event["experiment_key"] = experiment_key
        event["variant"] = variant
    return event
