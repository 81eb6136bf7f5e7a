"""Events from the application to the server, off the caller's thread.

``track()`` checks the value and properties (:func:`invalid_event`) and appends a tuple to a bounded
deque (no I/O); one sender thread encodes each event once, batches by count and encoded size
(:data:`MAX_BATCH_BYTES`) and time, posts to ``/api/v1/events/batch`` and retries 429, 5xx and
network errors with exponential backoff, full jitter and the server's ``Retry-After``. A batch stays at
the head of the queue until it is accepted, so nothing is lost while it fits in the buffer; beyond the
buffer new events are dropped, counted (``dropped``, ``overflowed``) and logged (a warning at the first
and then at most every :data:`OVERFLOW_WARNING_SECONDS`), and the next ``flush()`` answers False. A
batch answered 413 (too large) is sent again in halves, down to a single event, which alone is
dropped. An event that cannot be encoded (changed after ``track`` returned) is dropped with a log line,
never left at the head of the queue.

Exposures are deduplicated per (kind, key, unit, variant) in a bounded table (oldest entries forgotten
first), so a long-running process never grows without bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from experimently_sdk.ids import EVENT_ID_MAX, time_ordered_id
from experimently_sdk.ids import exposure_id as exposure_id  # the server's own, re-exported here

log = logging.getLogger("experimently_sdk")

MAX_BATCH = 1_000  # the server's limit per request
# JSON per request: half the server's default body limit (EXPERIMENTLY_MAX_BODY_BYTES, 2 MiB), so a
# full batch of events with large properties is not refused whole (a 413 is split all the same)
MAX_BATCH_BYTES = 1 << 20
USER_ID_MAX = 200  # the server's limit on an event's user_id (the unit), in characters
NAME_MAX = 100  # the server's limit on an event's name, in characters
OVERFLOW_WARNING_SECONDS = 30.0  # a full buffer is said at once, then at most this often
__all__ = [
    "EVENT_ID_MAX",
    "MAX_BATCH",
    "MAX_BATCH_BYTES",
    "NAME_MAX",
    "OVERFLOW_WARNING_SECONDS",
    "USER_ID_MAX",
    "Dedup",
    "EventProcessor",
    "error_message",
    "exposure_id",
    "flag_exposure_id",
    "invalid_event",
    "invalid_name",
    "invalid_user",
    "retry_delay",
]
# events as they are sent: strict JSON (no NaN or infinities), compact, UTF-8 (what httpx's ``json=`` writes)
_STRICT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

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


def invalid_event(value: Any, properties: Any) -> str | None:
    """Why an event with this ``value`` and these ``properties`` could never be sent, or None: the
    value must be a finite number (or None), the properties a dict that encodes as strict JSON (no NaN
    or infinity, no cycle, nothing ``json`` cannot write such as a set or a datetime, no lone
    surrogate). The server's own limits (names, sizes) are its to refuse, event by event."""
    if value is not None and not (type(value) is float and math.isfinite(value)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"value must be a number, not {type(value).__name__}"
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond a float's range
            finite = False
        if not finite:
            return f"value must be a finite number, not {value!r}"
    if properties:
        if not isinstance(properties, dict):
            return f"properties must be a dict, not {type(properties).__name__}"
        try:
            _STRICT.encode(properties).encode()
        except (ValueError, TypeError, RecursionError) as exc:
            return f"properties are not plain JSON ({exc})"
    return None


def invalid_name(name: Any) -> str | None:
    """Why ``name`` cannot be an event's name (the server takes 1 to :data:`NAME_MAX` characters), or
    None."""
    if not isinstance(name, str):
        return f"the event name must be a string, not {type(name).__name__}"
    if name == "":
        return "the event name is empty"
    if len(name) > NAME_MAX:
        return f"the event name is longer than the server takes ({NAME_MAX} characters)"
    return None


def invalid_user(user_id: Any) -> str | None:
    """Why ``user_id`` cannot be an event's unit (the server takes 1 to :data:`USER_ID_MAX`
    characters), or None: a non-empty string or an integer."""
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        return f"user_id must be a string or an integer, not {type(user_id).__name__}"
    if user_id == "":
        return "user_id is empty"
    if isinstance(user_id, str) and len(user_id) > USER_ID_MAX:
        return f"user_id is longer than the server takes ({USER_ID_MAX} characters)"
    return None


def retry_delay(attempt: int, retry_after: str | None, base: float, cap: float) -> float:
    """Full-jitter exponential backoff, never shorter than the server's ``Retry-After`` (seconds)."""
    # the exponent bounded: 2**1024 is beyond a float, which killed the thread after ~1,000 retries
    delay = random.uniform(0, min(cap, base * 2 ** min(attempt, 64)))
    if retry_after:
        with contextlib.suppress(ValueError):
            delay = max(delay, min(float(retry_after), 300.0))
    return delay


class EventProcessor:
    def __init__(
        self,
        post: Callable[[bytes], httpx.Response],
        *,
        capacity: int,
        batch_size: int,
        flush_interval: float,
        batch_bytes: int = MAX_BATCH_BYTES,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        self._post = post  # takes the request body: {"events": [...]} as UTF-8 JSON
        self.capacity = capacity
        self.batch_size = min(batch_size, MAX_BATCH)
        self.batch_bytes = batch_bytes
        self.flush_interval = flush_interval
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.dropped = 0
        self.refused = 0  # of ``dropped``: events the server refused (a 4xx batch, or one by one)
        self.unencodable = 0  # of ``dropped``: queued events the sender could not encode
        self.overflowed = 0  # of ``dropped``: events that found the buffer full
        self.after_close = 0  # of ``dropped``: events tracked after the client was closed
        self.sent = 0
        self._flushed_lost = 0  # queued events lost, when the last flush() answered
        self._overflow_said = -math.inf  # when a full buffer was last logged (time.monotonic)
        self._queue: deque[Queued] = deque()
        # the events being sent, each encoded once, kept until accepted (a 413 sends them in parts)
        self._inflight: list[bytes] = []
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
            self.overflowed += 1
            moment = time.monotonic()
            if moment - self._overflow_said >= OVERFLOW_WARNING_SECONDS:
                self._overflow_said = moment
                log.warning(
                    "experimently: the event buffer is full (%d events): %d events dropped so far. The "
                    "server may be unreachable, or events come faster than they are sent: raise "
                    "event_capacity or lower flush_interval",
                    self.capacity,
                    self.overflowed,
                )
            return
        queue.append(item)
        if len(queue) >= self.batch_size:
            self._wake.set()

    def lost_after_close(self) -> None:
        self.dropped += 1
        self.after_close += 1

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight)

    def flush(self, timeout: float) -> bool:
        """Send everything queued now; True when the queue was emptied within ``timeout`` and no queued
        event was lost since the previous flush answered (refused by the server, unencodable when
        sent, or dropped for a full buffer): every event ``track`` queued since then reached the
        server. (What ``track`` never queued, being invalid, was counted and warned about there.)"""
        end = time.monotonic() + timeout
        self._wake.set()
        emptied = True
        with self._idle:
            while self.pending:
                left = end - time.monotonic()
                if left <= 0:
                    emptied = False
                    break
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        lost = self.refused + self.unencodable + self.overflowed + self.after_close
        before, self._flushed_lost = self._flushed_lost, lost
        return emptied and lost == before

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
                    self._take()
                if self._inflight and not self._deliver():
                    break
            with self._idle:
                self._idle.notify_all()

    def _take(self) -> None:
        """Move the next batch from the head of the queue into flight: at most ``batch_size`` events
        and ``batch_bytes`` of JSON (a single larger event goes alone), each encoded once. Each event
        is in flight before it leaves the queue, so ``pending`` never misses it."""
        queue = self._queue
        batch = self._inflight
        size = 0
        while queue and len(batch) < self.batch_size:
            item = queue[0]
            try:
                encoded = _STRICT.encode(_encode(item)).encode()
            except Exception as exc:
                # properties changed after track() checked them, or a unit no UTF-8 can carry: the
                # event is dropped here, never left to block the queue
                queue.popleft()
                log.error("experimently: event %r dropped: it cannot be encoded as JSON (%s)", item[1], exc)
                self.dropped += 1
                self.unencodable += 1
                continue
            if batch and size + len(encoded) + 1 > self.batch_bytes:
                break
            batch.append(encoded)
            queue.popleft()
            size += len(encoded) + 1

    def _deliver(self) -> bool:
        """Send the in-flight events until each is accepted or dropped (True), or until closing gives
        up (False: what is left stays in flight). A part answered 413 is sent again in halves."""
        part = len(self._inflight)
        while self._inflight:
            batch = self._inflight[:part]
            outcome = self._send(batch)
            if outcome == "gave up":
                return False
            if outcome == "too large":
                if len(batch) > 1:
                    part = (len(batch) + 1) // 2
                    log.info(
                        "experimently: %d events too large for one request (413); sending halves", len(batch)
                    )
                    continue
                log.error(
                    "experimently: an event of %d bytes refused as too large (413); dropped", len(batch[0])
                )
                self._refuse(1)
            del self._inflight[: len(batch)]
            self.sent += len(batch)
        return True

    def _refuse(self, count: int) -> None:
        self.dropped += count
        self.refused += count

    def _send(self, batch: list[bytes]) -> Literal["done", "too large", "gave up"]:
        """Post ``batch`` until accepted or dropped ("done"), answered 413 ("too large"), or until
        closing gives up."""
        body = b'{"events":[' + b",".join(batch) + b"]}"
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self._post(body)
                if response.status_code < 300:
                    rejected = _rejected(response)
                    if rejected:
                        log.warning(
                            "experimently: the server refused %d events: %s",
                            len(rejected),
                            "; ".join(_refusal(batch, r) for r in rejected[:3]),
                        )
                        self._refuse(len(rejected))
                    return "done"
                if response.status_code == 413:
                    return "too large"
                if response.status_code != 429 and response.status_code < 500:
                    log.error(
                        "experimently: events refused with %s (%s); %d events dropped",
                        response.status_code,
                        error_message(response),
                        len(batch),
                    )
                    self._refuse(len(batch))
                    return "done"
                retry_after = response.headers.get("retry-after")
                log.info("experimently: events got %s; retrying", response.status_code)
            except httpx.HTTPError as exc:
                log.info("experimently: events not sent (%r); retrying", exc)
            except Exception:  # never let the sender thread die
                log.exception("experimently: unexpected error sending events")
            delay = retry_delay(attempt, retry_after, self.retry_base, self.retry_cap)
            attempt += 1
            if self._deadline is not None and time.monotonic() + delay > self._deadline:
                return "gave up"
            if self._stopping:
                return "gave up"
            time.sleep(delay)


def error_message(response: httpx.Response) -> str:
    """The server's message from its error envelope, else the status's reason."""
    try:
        message = response.json()["error"]["message"]
    except Exception:
        return response.reason_phrase or "no message"
    return str(message)


def _refusal(batch: list[bytes], rejected: Any) -> str:
    """One refused event as a reader wants it: its name, then the field and the server's reason."""
    try:
        name = json.loads(batch[int(rejected["index"])])["name"]
    except Exception:
        name = "?"
    if not isinstance(rejected, dict):
        return f"{name!r}: {rejected}"
    where = rejected.get("path")
    return f"{name!r}: {where + ' ' if where else ''}{rejected.get('message', 'refused')}"


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
