"""The retry policy, time-outs and circuit of every Redis client of the server: one quick retry, a
read time-out, and no more waiting for a Redis that has just not answered.

redis-py's default (10 retries, exponential backoff up to 1 s) makes each command against a Redis that
is down take ~4 s before it fails, so every request that touches Redis during an outage stalls that
long before its degraded answer (per-process rate limits, a 503 for ingestion). One retry after
10-50 ms is what a *restarted* Redis needs: the first command on a connection the restart closed fails,
the retry reconnects. A Redis that is really down then fails fast, and the callers degrade at once.

A Redis that *hangs* (paused, swapping, a network partition: connections open, nothing answering) is
cut by the read time-out; the retry gets a second time-out (a single one is also what an event loop
busy for half a second makes of a healthy Redis, and the retry hides it). A command that timed out
twice opens the :class:`Circuit`: the process's other commands are not sent for :data:`HOLD_SECONDS`
and fail at once with :class:`RedisUnanswered`, so a request that touches Redis twice (an assignment's
cache read and its exposure, an ingestion's rate limit and its enqueue) waits for one command's
time-outs at most, not each command's. Then one command is let through to find out whether Redis
answers again; until it does, the others keep failing at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

log = structlog.get_logger(__name__)

RETRIES = 1
# seconds a command may wait for Redis's answer. A Redis that is down refuses at once; one that hangs
# (paused, swapping, a network partition) would otherwise hold every request that touches it until the
# kernel gives up: measured 10-18 s per request with Redis stopped by SIGSTOP. In-datacentre answers
# take well under a millisecond; blocking stream reads ask for less than this (events.pipeline).
SOCKET_TIMEOUT = 0.5
# seconds after a command and its retry timed out during which this process sends Redis nothing (then
# one command at a time finds out whether it answers again)
HOLD_SECONDS = 1.0

NOT_SENT = Counter(
    "experimently_redis_commands_not_sent",
    "Redis commands failed at once, unsent, because Redis had just not answered in time",
)


def quick_retry() -> Retry:
    """Once, after 10-50 ms, on a refused or reset connection or a time-out."""
    return Retry(ExponentialWithJitterBackoff(cap=0.05, base=0.01), RETRIES, (ConnectionError, TimeoutError))


class RedisUnanswered(ConnectionError):
    """A command not sent: Redis did not answer another one in time moments ago (see :class:`Circuit`).
    A ``ConnectionError``, so every caller degrades as it does for a Redis that is down."""


class Circuit:
    """Whether this process sends Redis commands: closed (yes), open for :data:`HOLD_SECONDS` after a
    command and its retry timed out (no), then half-open (one command, the probe, at a time; the others
    fail at once until it answers)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.open_until: float | None = None  # None: closed
        self.probing = False

    def admit(self) -> bool:
        """Whether a command may be sent, raising :class:`RedisUnanswered` when not; True when it is the
        probe (its caller then reports its outcome and calls :meth:`probe_done`)."""
        if self.open_until is None:
            return False
        if self.probing or self.clock() < self.open_until:
            NOT_SENT.inc()
            raise RedisUnanswered("Redis did not answer in time just now; tried again within a second")
        self.probing = True
        return True

    def is_open(self) -> bool:
        """Whether commands are being held back (the probe's own caller excepted)."""
        return self.open_until is not None and (self.probing or self.clock() < self.open_until)

    def timed_out(self) -> None:
        if self.open_until is None:
            log.warning("redis.unanswered", hold_seconds=HOLD_SECONDS, read_timeout_seconds=SOCKET_TIMEOUT)
        self.open_until = self.clock() + HOLD_SECONDS

    def answered(self) -> None:
        self.open_until = None

    def probe_done(self) -> None:
        self.probing = False


_circuits: dict[str, Circuit] = {}


def circuit(url: str) -> Circuit:
    """This process's circuit for the Redis at ``url`` (one for every client of that Redis)."""
    found = _circuits.get(url)
    if found is None:
        found = _circuits[url] = Circuit()
    return found


class GuardedRedis(Redis):
    """A client whose commands go through its :class:`Circuit`. Blocking reads (the event writers'
    ``XREADGROUP ... BLOCK``) wait most of the time-out by design, so a busy event loop can make one
    time out twice: theirs do not open it. Pub/sub is not a command: its reads wait for messages without
    a time-out and do not go through it."""

    circuit: Circuit

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        guard = self.circuit
        probe = guard.admit()
        try:
            result = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except TimeoutError:
            if b"BLOCK" not in args:  # how redis-py spells the option
                guard.timed_out()
            raise
        except ConnectionError:
            if probe:  # refused rather than silent: the time-outs are over, the outage is not
                guard.answered()
            raise
        else:
            guard.answered()
            return result
        finally:
            if probe:
                guard.probe_done()


def guarded_client(url: str, **options: Any) -> GuardedRedis:
    client = GuardedRedis.from_url(url, **options)
    assert isinstance(client, GuardedRedis)  # from_url builds the class it is called on
    client.circuit = circuit(url)
    return client
