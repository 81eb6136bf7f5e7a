"""Rate limits on the ``limits`` library, Redis-backed when Redis is configured.

Two strategies share one storage: the moving window (exact: at most N hits in any window) for rare,
security-relevant limits such as logins, and the sliding-window counter (two counters per key, O(1))
for limits hit on every request, such as an API key's. The moving window keeps one entry per hit, so
a limit of 200,000/minute would hold up to 200,000 entries per key and its in-memory storage copies
that list on every hit: hundreds of microseconds per request under load.

Redis down: the limits fall back to this process's own memory (each instance then enforces the full
limit by itself, so N instances admit up to N times the limit) and the process reports itself degraded;
Redis is tried again at most once a second, and the shared limits resume when it answers.

``limits`` (and through it ``deprecated`` and ``wrapt``) is imported, and the storages built, on the
first hit rather than at start-up: about 4% of the server's import time, which no health check needs."""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from experimently import degraded
from experimently.errors import RateLimited

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio import strategies
    from limits.aio.storage import Storage

RETRY_REDIS_SECONDS = 1.0


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    from limits import parse

    return parse(limit)


class _Strategies:
    def __init__(self, storage: Storage) -> None:
        from limits.aio import strategies

        self.storage = storage
        self.exact = strategies.MovingWindowRateLimiter(storage)
        self.counter = strategies.SlidingWindowCounterRateLimiter(storage)

    def pick(self, exact: bool) -> strategies.RateLimiter:
        return self.exact if exact else self.counter


def _client_options() -> dict[str, Any]:
    """Passed through to the redis client (``limits`` types its options as scalars)."""
    from experimently.kit.redis_retry import quick_retry  # redis only when configured

    return {"retry": quick_retry()}


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self._local: _Strategies | None = None
        self._shared: _Strategies | None = None
        self._retry_at = 0.0  # monotonic time before which Redis is not tried again

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
                    socket_connect_timeout=1,
                    socket_timeout=1,
                    **_client_options(),
                )
            )
        return self._shared

    def _current(self) -> tuple[_Strategies, bool]:
        if self.shared is not None and time.monotonic() >= self._retry_at:
            return self.shared, True
        return self.local, False

    async def hit(self, limit: str | RateLimitItem, *identifiers: str, exact: bool = True) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) when over the limit.

        ``exact=False`` uses the sliding-window counter: constant cost per hit, and the count over the
        last window is estimated from the previous fixed window, weighted by its remaining overlap."""
        item = _parse(limit) if isinstance(limit, str) else limit
        group, shared = self._current()
        if shared:
            try:
                await self._hit(group.pick(exact), item, identifiers)
                if degraded.is_down(degraded.REDIS):
                    degraded.mark_up(degraded.REDIS)
                return
            except RateLimited:
                raise
            except Exception as exc:  # Redis unreachable (or answering garbage): limit locally
                self._retry_at = time.monotonic() + RETRY_REDIS_SECONDS
                degraded.mark_down(degraded.REDIS, exc)
        await self._hit(self.local.pick(exact), item, identifiers)

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
        for group in (self.shared, self.local):
            if group is not None:
                await group.exact.clear(_parse(limit), *identifiers)
                await group.counter.clear(_parse(limit), *identifiers)
