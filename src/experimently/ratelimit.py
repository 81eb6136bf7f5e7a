"""Rate limits: the ``limits`` library for the exact ones, our own counter for the one on every request.

Two strategies:

- the **moving window** (exact: at most N hits in any window), from ``limits``, for rare,
  security-relevant limits such as logins; in Redis when configured, else in this process's memory;
- the **sliding-window counter** (two counters per key, O(1)) for limits hit on every request, such as
  an API key's (``exact=False``). The count over the last window is estimated from the previous fixed
  window, weighted by its remaining overlap, as ``limits``' sliding-window counter does (windows
  aligned on multiples of the period since the epoch; a hit passes while ``floor(estimate) + 1 <=
  limit``). It runs on ``LocalCounters`` below rather than on ``limits``' in-memory storage, which
  schedules an expiry task and a thread-pool hop on every hit (~15% of the server's CPU per
  evaluation, measured with py-spy under ``bench/eval_http.py``'s load).

With Redis, the per-request counter is **shared in batches** (``SharedCounters``): each process admits
hits against the shared estimate it last read plus its own hits since, and sends those hits to Redis
(one ``limits`` sliding-window hit with their count, then a read of the new estimate) when they exceed
0.5% of the limit or 100 ms have passed. A request therefore makes a Redis round trip at most every
100 ms per key and process instead of every time; the price is that N instances may together admit up
to N x 0.5% of the limit (or 100 ms of their traffic) beyond it. Limits below 200 per window (0.5% <
1) are counted in Redis on every hit, exactly as before.

Redis down: the limits fall back to this process's own memory (each instance then enforces the full
limit by itself, so N instances admit up to N times the limit) and the process reports itself degraded;
Redis is tried again at most once a second, and the shared limits resume when it answers.

``limits`` (and through it ``deprecated`` and ``wrapt``) is imported, and the storages built, on the
first hit rather than at start-up: about 4% of the server's import time, which no health check needs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from experimently import degraded
from experimently.errors import RateLimited

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio import strategies
    from limits.aio.storage import Storage

    from experimently.kit.redis_retry import Circuit

RETRY_REDIS_SECONDS = 1.0
SYNC_SECONDS = 0.1  # a shared counter's hits reach Redis at least this often while it is used
SYNC_FRACTION = 0.005  # ... or as soon as they exceed this share of the limit
PRUNE_SECONDS = 60.0  # how often local counters of ended windows are dropped


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    from limits import parse

    return parse(limit)


_KEYS_MAX = 10_000
_keys: dict[tuple[int, tuple[str, ...]], tuple[RateLimitItem, str]] = {}


def _key_for(item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
    """``item.key_for(*identifiers)``, remembered: the library builds the key with seven Python calls,
    ~2 us of every request counted against an API key. The item itself is kept with its key, so an
    ``id`` reused by a later object can never return another item's key."""
    memo = _keys.get((id(item), identifiers))
    if memo is not None and memo[0] is item:
        return memo[1]
    if len(_keys) >= _KEYS_MAX:
        _keys.clear()
    key = item.key_for(*identifiers)
    _keys[(id(item), identifiers)] = (item, key)
    return key


class LocalCounters:
    """Sliding-window counters in this process's memory (no task, no thread, no await).

    Per key: the index of the current fixed window (``floor(now / period)``), its count and the
    previous window's. Keys whose windows ended are dropped once a minute."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._windows: dict[str, list[Any]] = {}  # key -> [window index, current, previous, period]
        self._prune_at = 0.0

    def hit(self, key: str, limit: int, period: int) -> float:
        """Count one hit when it fits; 0.0 when it did, else the seconds until one would."""
        now = self.clock()
        if now >= self._prune_at:
            self._prune(now)
        index, elapsed = divmod(now, period)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = [index, 0, 0, period]
        elif window[0] != index:  # a new window: the current count becomes the previous one (or 0)
            window[2] = window[1] if window[0] == index - 1 else 0
            window[0], window[1] = index, 0
        current, previous = window[1], window[2]
        remaining = period - elapsed
        if math.floor(previous * remaining / period + current) + 1 <= limit:
            window[1] = current + 1
            return 0.0
        return _retry_after(limit, period, remaining, current, previous)

    def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self, now: float) -> None:
        self._prune_at = now + PRUNE_SECONDS
        for key, (index, _current, _previous, period) in list(self._windows.items()):
            if now // period > index + 1:  # neither the current nor the previous window
                del self._windows[key]


def _retry_after(limit: int, period: float, remaining: float, current: float, previous: float) -> float:
    """Seconds until one more hit fits the weighted estimate ``previous * remaining / period +
    current``: while the previous window's weight fades when the current one has room, else at the end
    of the current window (the estimate then starts from it)."""
    room = limit - 1 - current
    if room >= 0 and previous > 0:
        return max(remaining - (room + 1) * period / previous, 0.0) + 0.001
    return remaining + 0.001


class _Shared:
    """One key's view in ``SharedCounters``."""

    __slots__ = ("due", "estimate", "pending", "syncing")

    def __init__(self, due: float) -> None:
        self.estimate = 0.0  # the shared count last read from Redis (ours included, up to that sync)
        self.pending = 0  # hits admitted here since, not yet sent
        self.due = due  # when the next sync is due
        self.syncing = False


class SharedCounters:
    """The per-request counters shared through Redis in batches (module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._state: dict[str, _Shared] = {}
        self._prune_at = 0.0

    async def hit(
        self, strategy: strategies.RateLimiter, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> bool:
        """Count one hit; True when this call reached Redis (most hits are admitted from the estimate
        without a round trip, and say nothing about whether Redis answers)."""
        limit = item.amount
        slack = int(limit * SYNC_FRACTION)
        if slack < 1:  # a small limit: every hit is counted in Redis, exactly
            await RateLimiter._hit(strategy, item, identifiers)
            return True
        key = _key_for(item, identifiers)
        now = self.clock()
        if now >= self._prune_at:
            self._prune(now)
        reached = False
        state = self._state.get(key)
        if state is None:  # the first hit of this key here: read the shared estimate first
            state = self._state[key] = _Shared(now)
            await self._sync(state, strategy, item, identifiers)
            reached = True
        if math.floor(state.estimate + state.pending) + 1 > limit:
            if not state.syncing and now >= state.due:  # the shared window may have moved on: look again
                await self._sync(state, strategy, item, identifiers)
                if math.floor(state.estimate + state.pending) + 1 <= limit:
                    state.pending += 1
                    return True
            raise RateLimited(max(1, math.ceil(_shared_retry_after(item))))
        state.pending += 1
        if not state.syncing and (state.pending > slack or now >= state.due):
            await self._sync(state, strategy, item, identifiers)
            reached = True
        return reached

    async def _sync(
        self,
        state: _Shared,
        strategy: strategies.RateLimiter,
        item: RateLimitItem,
        identifiers: tuple[str, ...],
    ) -> None:
        """Send the pending hits (one hit of their count), then read the shared estimate. On a Redis
        error the pending hits stay pending and the error propagates (the caller falls back)."""
        state.syncing = True
        try:
            sent = state.pending
            if sent and not await strategy.hit(item, *identifiers, cost=sent):
                # they do not all fit (``limits`` then counts none): count what still fits, so the
                # shared count reaches the limit and every process sees the key as full
                room = (await strategy.get_window_stats(item, *identifiers)).remaining
                if room > 0:
                    await strategy.hit(item, *identifiers, cost=min(room, sent))
            state.pending -= sent
            stats = await strategy.get_window_stats(item, *identifiers)
            state.estimate = float(item.amount - stats.remaining)
            state.due = self.clock() + SYNC_SECONDS
        finally:
            state.syncing = False

    def clear(self, key: str) -> None:
        self._state.pop(key, None)

    def _prune(self, now: float) -> None:
        """Forget keys not synced for a minute with nothing pending (their next hit reads Redis)."""
        self._prune_at = now + PRUNE_SECONDS
        for key, state in list(self._state.items()):
            if not state.pending and not state.syncing and state.due < now - PRUNE_SECONDS:
                del self._state[key]


def _shared_retry_after(item: RateLimitItem) -> float:
    """A shared counter over its limit: at most the rest of the current fixed window (the estimate is
    this process's view, refreshed at most ``SYNC_SECONDS`` ago)."""
    period = item.get_expiry()
    return period - time.time() % period + 0.001


class _Strategies:
    def __init__(self, storage: Storage) -> None:
        from limits.aio import strategies

        self.storage = storage
        self.exact = strategies.MovingWindowRateLimiter(storage)
        self.counter = strategies.SlidingWindowCounterRateLimiter(storage)


def _client_options() -> dict[str, Any]:
    """Passed through to the redis client (``limits`` types its options as scalars)."""
    from experimently.kit.redis_retry import SOCKET_TIMEOUT, quick_retry  # redis only when configured

    return {"retry": quick_retry(), "socket_connect_timeout": 1, "socket_timeout": SOCKET_TIMEOUT}


def _timed_out(exc: BaseException) -> bool:
    from redis.exceptions import TimeoutError as RedisTimeout

    return isinstance(exc, RedisTimeout)


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self._local: _Strategies | None = None
        self._shared: _Strategies | None = None
        self._retry_at = 0.0  # monotonic time before which Redis is not tried again
        # the circuit the process's other clients of this Redis share (kit.redis_retry): ``limits``
        # builds this client, so it does not go through it; the limiter reads it and tells it what it saw
        self._redis_circuit: Circuit | None = None
        if redis_url:
            from experimently.kit.redis_retry import circuit  # redis is imported only when configured

            self._redis_circuit = circuit(redis_url)
        self.counters = LocalCounters()  # the per-request limits in this process's memory
        self.shared_counters = SharedCounters()  # the same, shared through Redis in batches

    @property
    def local(self) -> _Strategies:
        """This process's own memory (built on first use)."""
        if self._local is None:
            from limits.aio.storage import MemoryStorage

            self._local = _Strategies(MemoryStorage())
        return self._local

    @property
    def shared(self) -> _Strategies | None:
        """Redis, when configured (built on first use)."""
        if self._shared is None and self.redis_url:
            from limits.aio.storage import RedisStorage

            url = self.redis_url
            uri = "async+" + url if not url.startswith("async+") else url
            self._shared = _Strategies(
                RedisStorage(
                    uri,
                    implementation="redispy",
                    key_prefix="experimently-rl",
                    **_client_options(),
                )
            )
        return self._shared

    def _current(self) -> tuple[_Strategies, bool]:
        shared, circuit = self.shared, self._redis_circuit
        usable = circuit is not None and not circuit.is_open()
        if shared is not None and usable and time.monotonic() >= self._retry_at:
            return shared, True
        return self.local, False

    async def hit(self, limit: str | RateLimitItem, *identifiers: str, exact: bool = True) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) when over the limit.

        ``exact=False`` uses the sliding-window counter: constant cost per hit, and the count over the
        last window is estimated from the previous fixed window, weighted by its remaining overlap."""
        item = _parse(limit) if isinstance(limit, str) else limit
        if not exact and self.redis_url is None:  # the embedded shape: no library, no await
            self._hit_local_counter(item, identifiers)
            return
        group, shared = self._current()
        if shared:
            try:
                reached = True
                if exact:
                    await self._hit(group.exact, item, identifiers)
                else:
                    reached = await self.shared_counters.hit(group.counter, item, identifiers)
                # only an answer from Redis says it is back (a hit admitted from the estimate said
                # "up" every second of an outage, between the failed syncs' "down")
                if reached:
                    assert self._redis_circuit is not None  # shared: Redis is configured
                    self._redis_circuit.answered()
                    if degraded.is_down(degraded.REDIS):
                        degraded.mark_up(degraded.REDIS)
                return
            except RateLimited:
                raise
            except Exception as exc:  # Redis unreachable (or answering garbage): limit locally
                self._retry_at = time.monotonic() + RETRY_REDIS_SECONDS
                if _timed_out(exc) and self._redis_circuit is not None:
                    self._redis_circuit.timed_out()
                degraded.mark_down(degraded.REDIS, exc)
        if exact:
            await self._hit(self.local.exact, item, identifiers)
        else:
            self._hit_local_counter(item, identifiers)

    def _hit_local_counter(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> None:
        wait = self.counters.hit(_key_for(item, identifiers), item.amount, item.get_expiry())
        if wait:
            raise RateLimited(max(1, math.ceil(wait)))

    async def test(self, limit: str, *identifiers: str) -> bool:
        """Whether one more hit would pass, in this process's memory only (never a network call)."""
        return await self.local.exact.test(_parse(limit), *identifiers)

    async def hit_local(self, limit: str, *identifiers: str) -> bool:
        """Count one hit in this process's memory only; False when over the limit."""
        return await self.local.exact.hit(_parse(limit), *identifiers)

    @staticmethod
    async def _hit(
        strategy: strategies.RateLimiter, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> None:
        if await strategy.hit(item, *identifiers):
            return
        stats = await strategy.get_window_stats(item, *identifiers)
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def clear(self, limit: str, *identifiers: str) -> None:
        item = _parse(limit)
        for group in (self.shared, self.local):
            if group is not None:
                await group.exact.clear(item, *identifiers)
                await group.counter.clear(item, *identifiers)
        self.counters.clear(item.key_for(*identifiers))
        self.shared_counters.clear(item.key_for(*identifiers))
