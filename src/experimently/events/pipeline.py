"""API -> queue -> batch writer, in two shapes with one interface.

- :class:`EmbeddedPipeline` (no Redis): a bounded in-process queue and one writer task. Accepted
  events live in memory until written; shutdown drains the queue before the process exits.
- :class:`StreamPipeline` (Redis configured): one ``XADD`` per accepted request onto a Redis Stream
  read through a consumer group by the writer task of every ``worker`` process and of every ``serve``
  process unless ``EVENT_WRITER=false`` (then that process only enqueues). A
  message is acknowledged only after its rows are committed; ``XAUTOCLAIM`` hands the pending messages
  of a dead consumer to a live one. Replays are harmless: the writer stores an ``event_id`` once.

Both refuse new events (``ServiceUnavailable``, 503 + Retry-After) when ``event_queue_max`` events are
waiting, and neither drops an event once it is accepted: a failed write is retried, never discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from prometheus_client import Counter, Gauge, Histogram

from experimently import degraded
from experimently.config import Settings
from experimently.db import Database
from experimently.degraded import dependency_of
from experimently.errors import AppError, ErrorCode, ServiceUnavailable
from experimently.events import repository
from experimently.events.validation import EventRow
from experimently.kit.ids import new_id

if TYPE_CHECKING:  # imported only when Redis is configured (start-up time)
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)
# the stream is shared by every process of every instance: the most recent reading of any process is
# the value (a process that stopped receiving events must not keep reporting its last one)
QUEUE_DEPTH = Gauge(
    "experimently_events_queue_depth",
    "Accepted events waiting to be written",
    multiprocess_mode="livemostrecent",
)
STORED = Counter("experimently_events_stored_total", "Events written (new event ids)")
DUPLICATES = Counter("experimently_events_duplicates_total", "Events skipped as already stored")
BATCH_SECONDS = Histogram("experimently_events_writer_batch_seconds", "Writer batch duration")
WRITE_ERRORS = Counter("experimently_events_write_errors_total", "Failed writer batches (retried)")

ENQUEUE = """
local pending = tonumber(redis.call('GET', KEYS[2]) or '0')
if pending + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
redis.call('XADD', KEYS[1], '*', 'n', ARGV[1], 'e', ARGV[3])
return redis.call('INCRBY', KEYS[2], ARGV[1])
"""
ACK = """
local done = 0
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    done = done + tonumber(ARGV[i + 1])
  end
end
if done == 0 then return -1 end
return redis.call('DECRBY', KEYS[2], done)
"""


RECONCILE = """
local len = redis.call('XLEN', KEYS[1])
local raw = redis.call('GET', KEYS[2])
local counted = tonumber(raw or '0')
if len == 0 then
  if counted ~= 0 then redis.call('SET', KEYS[2], 0) end
  return {counted, 0}
end
if raw == false or counted < 0 or len <= tonumber(ARGV[1]) then
  local total = 0
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'n' then total = total + tonumber(fields[i + 1]) end
    end
  end
  redis.call('SET', KEYS[2], total)
  return {counted, total}
end
return {counted, counted}
"""
HOUSEKEEPING_SECONDS = 30.0
# an idle writer's blocking read: under the Redis client's read time-out (kit.redis_retry.SOCKET_TIMEOUT),
# which would otherwise cut every read that finds nothing new
READ_BLOCK_MS = 250
# how often settle() looks again whether the events accepted before it are written
SETTLE_POLL_SECONDS = 0.02
RECOUNT_BELOW = 10_000  # messages: a stream this short is recounted exactly (one atomic script)
CLAIM_BATCHES = 10  # a claim takes up to 10 reads' worth of a dead consumer's messages at once


async def redis_persistence(redis: Redis) -> str:
    """``"aof"`` when Redis keeps an append-only file, ``"off"`` when not, ``"unknown"`` when it does
    not say (managed services often disable ``CONFIG``)."""
    try:
        reply: Any = await redis.config_get("appendonly")
    except Exception:
        return "unknown"
    value = reply.get("appendonly", reply.get(b"appendonly"))
    if value is None:
        return "unknown"
    value = value.decode() if isinstance(value, bytes) else str(value)
    return "aof" if value == "yes" else "off"


class Pipeline(Protocol):
    async def enqueue(self, rows: Sequence[EventRow]) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def flush(self, wait_seconds: float = 30.0) -> None: ...
    async def refresh_depth(self) -> None: ...
    async def settle(self, wait_seconds: float) -> int | None:
        """Wait, at most ``wait_seconds``, until every event accepted before the call is written;
        returns 0 when they are, otherwise how many events the queue holds (``None``: it could not be
        read). Events accepted meanwhile are not waited for."""
        ...


async def write_rows(db: Database, rows: Sequence[EventRow]) -> int:
    """One committed batch; returns the rows newly stored."""
    started = time.perf_counter()
    async with db.transaction() as session:
        stored = await repository.insert_batch(session, rows)
    _observe(started, len(rows), stored)
    return stored


async def write_messages(db: Database, messages: Sequence[bytes], events: int) -> int:
    """One committed batch of wire messages (``events`` rows in all); returns the rows newly stored."""
    started = time.perf_counter()
    async with db.transaction() as session:
        stored = await repository.insert_messages(session, messages)
    _observe(started, events, stored)
    return stored


def _observe(started: float, rows: int, stored: int) -> None:
    BATCH_SECONDS.observe(time.perf_counter() - started)
    STORED.inc(stored)
    DUPLICATES.inc(rows - stored)


def _full(retry_after: int = 1) -> ServiceUnavailable:
    return ServiceUnavailable("event queue is full; retry later", retry_after=retry_after)


def _never_fits(events: int, capacity: int) -> AppError:
    """A batch larger than the whole queue: a 413 that says so, not a 503 to retry for ever."""
    return AppError(
        f"a batch of {events} events is larger than the event queue holds ({capacity}, "
        "EXPERIMENTLY_EVENT_QUEUE_MAX): send smaller batches",
        code=ErrorCode.PAYLOAD_TOO_LARGE,
        status=413,
        details={"events": events, "event_queue_max": capacity},
    )


class EmbeddedPipeline:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.max = settings.event_queue_max
        self.batch = settings.event_batch_size
        self.queue: deque[list[EventRow]] = deque()
        self.pending = 0
        self.accepted = 0  # events ever queued, and those of them written (in queue order): settle()
        self.written = 0
        self._wrote = asyncio.Event()  # set after each batch written
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def enqueue(self, rows: Sequence[EventRow]) -> None:
        if len(rows) > self.max:
            raise _never_fits(len(rows), self.max)
        if self._stopping or self.pending + len(rows) > self.max:
            raise _full()
        self.queue.append(list(rows))
        self.pending += len(rows)
        self.accepted += len(rows)
        QUEUE_DEPTH.set(self.pending)
        self._idle.clear()
        self._wake.set()

    async def refresh_depth(self) -> None:
        """The gauge follows the in-memory queue exactly already."""

    def _take(self) -> list[list[EventRow]]:
        taken: list[list[EventRow]] = []
        count = 0
        while self.queue and (not taken or count + len(self.queue[0]) <= self.batch):
            taken.append(self.queue.popleft())
            count += len(taken[-1])
        return taken

    async def _write_one_batch(self) -> None:
        taken = self._take()
        rows = [row for message in taken for row in message]
        try:
            await write_rows(self.db, rows)
        except Exception as exc:
            WRITE_ERRORS.inc()
            log.error("events.write_failed", error=repr(exc), rows=len(rows))
            self.queue.extendleft(reversed(taken))  # keep them, in order, and retry
            await asyncio.sleep(0.5)
            return
        self.pending -= len(rows)
        self.written += len(rows)
        self._wrote.set()
        QUEUE_DEPTH.set(self.pending)

    async def _run(self) -> None:
        while True:
            if not self.queue:
                self._idle.set()
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._write_one_batch()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="events-writer")

    async def flush(self, wait_seconds: float = 30.0) -> None:
        await asyncio.wait_for(self._idle.wait(), wait_seconds)

    async def settle(self, wait_seconds: float) -> int | None:
        """The queue is written in order: the events accepted before the call are written once as
        many events have been written as had been accepted then."""
        mark, deadline = self.accepted, time.monotonic() + wait_seconds
        while True:
            self._wrote.clear()  # before the look: a batch written after it wakes the wait
            if self.written >= mark:
                return 0
            left = deadline - time.monotonic()
            if left <= 0:
                return self.pending
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wrote.wait(), left)

    async def stop(self) -> None:
        """Refuse new events, write every queued one, then end the writer."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        log.info("events.writer_drained", remaining=self.pending)


class StreamPipeline:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        settings: Settings,
        consumer: str | None = None,
        *,
        keeps_house: bool = True,  # False: the process's other writer loops leave housekeeping to the first
    ) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.stream = settings.event_stream_key
        self.group = settings.event_stream_group
        self.counter = f"{self.stream}:pending"
        self.consumer = consumer or new_id()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._waiting_for_news = False  # the writer is inside the blocking read (see stop)
        self._more_writers: list[StreamPipeline] = []  # this process's other writer loops (start)
        self._enqueue = redis.register_script(ENQUEUE)
        self._ack = redis.register_script(ACK)
        self._last_claim = 0.0
        self._claim_count = settings.event_stream_read_count * CLAIM_BATCHES
        self._claim_more = False
        self._in_hand: list[tuple[bytes, dict[bytes, bytes]]] = []
        self._failing: str | None = None
        self._last_housekeeping = time.monotonic()
        self._keeps_house = keeps_house
        self._reconcile = redis.register_script(RECONCILE)

    async def enqueue(self, rows: Sequence[EventRow]) -> None:
        if len(rows) > self.settings.event_queue_max:
            raise _never_fits(len(rows), self.settings.event_queue_max)
        payload = repository.encode_rows(rows)
        depth = await self._enqueue(
            keys=[self.stream, self.counter], args=[len(rows), self.settings.event_queue_max, payload]
        )
        if int(depth) < 0:
            raise _full()
        QUEUE_DEPTH.set(int(depth))

    async def ensure_group(self) -> None:
        from redis.exceptions import ResponseError  # redis is imported only when configured

        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, block_ms: int = READ_BLOCK_MS) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """New messages for this consumer (they stay pending until acknowledged); waits at most
        ``block_ms`` for them, under the client's read time-out."""
        reply = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=self.settings.event_stream_read_count,
            block=block_ms,
        )
        found: Any = reply or []
        return [item for _stream, items in found for item in items]

    async def claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Take over messages another consumer read but did not acknowledge in time."""
        reply: Any = await self.redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.settings.event_claim_idle_ms,
            start_id="0-0",
            count=self._claim_count,
        )
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = [item for item in reply[1] if item[1]]
        if claimed:
            log.warning("events.claimed", consumer=self.consumer, messages=len(claimed))
        return claimed

    async def process(self, messages: list[tuple[bytes, dict[bytes, bytes]]], *, ack: bool = True) -> int:
        """Write the messages' rows in one transaction, then acknowledge them (one script call).

        The message bodies go to the database as they are (no decoding here, see ``repository``)."""
        events = sum(int(fields[b"n"]) for _id, fields in messages)
        stored = await write_messages(self.db, [fields[b"e"] for _id, fields in messages], events)
        if ack:
            args: list[bytes | str] = [self.group]
            for message_id, fields in messages:
                args += [message_id, fields[b"n"]]
            left = int(await self._ack(keys=[self.stream, self.counter], args=args))
            if left >= 0:  # -1: nothing acknowledged (another writer had them)
                QUEUE_DEPTH.set(left)
        return stored

    async def _next_messages(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        if self._in_hand:  # a batch whose write or ack failed: retried before anything new is read
            return self._in_hand
        messages: list[tuple[bytes, dict[bytes, bytes]]] = []
        if (
            self._claim_more
            or time.monotonic() - self._last_claim >= self.settings.event_claim_idle_ms / 2000
        ):
            self._last_claim = time.monotonic()
            messages = await self.claim()
            # a full claim means more are waiting (a dead consumer's backlog): claim again at once
            self._claim_more = len(messages) >= self._claim_count
        if not messages and not self._stopping:  # stop() during the claim: no new read
            self._waiting_for_news = True
            try:
                messages = await self.read()
            finally:
                self._waiting_for_news = False
        return messages

    async def _step(self) -> None:
        messages = await self._next_messages()
        if not messages:
            return
        try:
            await self.process(messages)
        except Exception as exc:
            if dependency_of(exc) is not None:
                # the database or Redis is unreachable: keep this batch in hand (pending under our
                # name; should another writer claim it meanwhile, the event ids make the second write
                # a no-op) and read nothing new; when the dependency is back the backlog is read at
                # the writer's normal speed
                self._in_hand = messages
                raise
            self._in_hand = []
            if len(messages) == 1:
                raise
            # Write them one by one, so a message that cannot be written does not hold the others
            # back; it stays pending (claimed again later) and its neighbours are committed and acked.
            WRITE_ERRORS.inc()
            log.error("events.batch_failed", error=repr(exc), messages=len(messages))
            for message in messages:
                try:
                    await self.process([message])
                except Exception as one:
                    WRITE_ERRORS.inc()
                    log.error("events.message_failed", message_id=message[0].decode(), error=repr(one))
            return
        self._in_hand = []

    async def _run(self) -> None:
        await self._ensure_group_logged()
        backoff = 0.1
        while not self._stopping:
            try:
                await self._step()
                backoff = 0.1
                if self._failing is not None:
                    log.info("events.writer_recovered", dependency=self._failing)
                    degraded.mark_up(self._failing)
                    self._failing = None
                await self._housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if "NOGROUP" in str(exc):  # Redis lost the stream or the group (restarted empty)
                    log.warning("events.group_missing", stream=self.stream, group=self.group)
                    await self._ensure_group_logged()
                    continue
                dependency = dependency_of(exc)
                if dependency is None:
                    WRITE_ERRORS.inc()
                    log.error("events.stream_step_failed", error=repr(exc))
                    await asyncio.sleep(0.5)
                    continue
                if dependency == "network":
                    dependency = degraded.REDIS
                if self._failing is None:
                    self._failing = dependency
                    WRITE_ERRORS.inc()
                    log.warning("events.writer_waiting", dependency=dependency, error=repr(exc))
                    degraded.mark_down(dependency, exc)
                await self.refresh_depth()  # the backlog grows while the database is away
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _ensure_group_logged(self) -> None:
        with contextlib.suppress(Exception):
            await self.ensure_group()

    async def _housekeeping(self) -> None:
        """Every ``HOUSEKEEPING_SECONDS``: reconcile the pending-events counter and remove consumers
        that have been idle a long time with nothing pending (dead processes)."""
        moment = time.monotonic()
        if not self._keeps_house or moment - self._last_housekeeping < HOUSEKEEPING_SECONDS:
            return
        self._last_housekeeping = moment
        await self.reconcile_pending()
        await self.remove_dead_consumers()

    async def reconcile_pending(self) -> int:
        """Set the pending-events counter to what the stream holds (0 when empty; recounted when short
        or when the counter is missing or negative); returns the counter's value afterwards."""
        before, after = await self._reconcile(keys=[self.stream, self.counter], args=[RECOUNT_BELOW])
        QUEUE_DEPTH.set(int(after))
        if int(before) != int(after):
            log.warning("events.pending_reconciled", counted=int(before), actual=int(after))
        return int(after)

    async def remove_dead_consumers(self, idle_ms: int | None = None) -> list[str]:
        """Delete consumers idle longer than ``idle_ms`` with no pending message (never one that holds
        messages: deleting it would strand them; they are claimed first, then it goes)."""
        limit = idle_ms if idle_ms is not None else self.settings.event_claim_idle_ms * 4
        removed: list[str] = []
        consumers: Any = await self.redis.xinfo_consumers(self.stream, self.group)
        for consumer in consumers:
            name = consumer["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name == self.consumer or int(consumer["pending"]) > 0 or int(consumer["idle"]) < limit:
                continue
            await self.redis.xgroup_delconsumer(self.stream, self.group, name)
            removed.append(name)
        if removed:
            log.info("events.consumers_removed", consumers=removed)
        return removed

    async def persistence(self) -> str:
        """``"aof"``, ``"off"`` (a Redis restart loses queued events) or ``"unknown"``."""
        return await redis_persistence(self.redis)

    async def depth(self) -> int:
        return int(await self.redis.get(self.counter) or 0)

    async def settle(self, wait_seconds: float) -> int | None:
        """A message leaves the stream when its events are committed (``ACK`` deletes it), so the
        events accepted before the call are written once no message up to the stream's newest then is
        left. Whichever process writes them: this one's writers, another's, a worker's."""
        try:
            newest: Any = await self.redis.xrevrange(self.stream, count=1)
            if not newest:
                return 0
            mark, deadline = newest[0][0], time.monotonic() + wait_seconds
            while await self.redis.xrange(self.stream, max=mark, count=1):
                if time.monotonic() >= deadline:
                    return await self.depth()
                await asyncio.sleep(SETTLE_POLL_SECONDS)
            return 0
        except Exception as exc:  # Redis down or its circuit open: the aggregation goes on without
            log.warning("events.settle_failed", error=repr(exc))
            return None

    async def refresh_depth(self) -> None:
        """Set the gauge from the shared counter (at each scrape, and while the writer waits for the
        database); a Redis that does not answer leaves it as it was."""
        with contextlib.suppress(Exception):
            QUEUE_DEPTH.set(await self.depth())

    async def start(self) -> None:
        """Start the writer loops. A Redis that cannot be reached does not stop the process: it starts
        degraded (ingestion answers 503 until Redis is back, evaluation goes on), and the loops create
        the consumer group and begin writing once it answers. (Refusing to start made a server
        replacing a dead worker process during an outage stop the whole instance.)"""
        try:
            await self.ensure_group()
            if await self.persistence() == "off":
                log.warning(
                    "events.redis_persistence_off",
                    advice="enable appendonly (appendfsync everysec or always): "
                    "a Redis restart without it loses queued events",
                )
        except Exception as exc:
            dependency = dependency_of(exc)
            if dependency is None:
                raise
            log.warning("events.started_without_redis", error=repr(exc))
            degraded.mark_down(degraded.REDIS, exc)
        if not self.settings.event_writer:
            log.info("events.writer_disabled", consumer=self.consumer)
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="events-stream-writer")
            # More writer loops, each a consumer of its own (``<consumer>.2``, ...) with its own
            # connection: writers deduplicate concurrently and take turns only to store (the
            # repository), so a second loop overlaps the first's statement and commit.
            for number in range(2, self.settings.event_writers + 1):
                consumer = f"{self.consumer}.{number}"
                more = StreamPipeline(self.db, self.redis, self.settings, consumer, keeps_house=False)
                more._task = asyncio.create_task(more._run(), name=f"events-stream-writer-{number}")
                self._more_writers.append(more)

    async def flush(self, wait_seconds: float = 30.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while await self.depth() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("event stream not drained")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Finish the batch in hand (commit + ack); unread messages stay in the stream for others.
        This process's other writer loops stop the same way, at the same time."""
        more, self._more_writers = self._more_writers, []
        await asyncio.gather(self._stop_writing(), *(writer.stop() for writer in more))

    async def _stop_writing(self) -> None:
        self._stopping = True
        if self._task is not None:
            if self._waiting_for_news:
                # Blocked in XREADGROUP (up to a second) with nothing in hand: end it now rather than
                # hold the shutdown. Should Redis hand us messages at that very moment, they stay
                # pending under this consumer and another writer claims them (the event ids make a
                # second write a no-op): nothing is lost.
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=self.settings.event_claim_idle_ms / 1000)
            self._task = None
