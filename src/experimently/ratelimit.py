"""Rate limits on the ``limits`` library, Redis-backed when Redis is configured.

Two strategies share one storage: the moving window (exact: at most N hits in any window) for rare,
security-relevant limits such as logins, and the sliding-window counter (two counters per key, O(1))
for limits hit on every request, such as an API key's. The moving window keeps one entry per hit, so
a limit of 200,000/minute would hold up to 200,000 entries per key and its in-memory storage copies
that list on every hit: hundreds of microseconds per request under load."""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio import strategies
from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from experimently.errors import RateLimited


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = RedisStorage(uri, implementation="redispy", key_prefix="experimently-rl")
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.limiter = strategies.MovingWindowRateLimiter(storage)
        self.counter = strategies.SlidingWindowCounterRateLimiter(storage)

    async def hit(self, limit: str | RateLimitItem, *identifiers: str, exact: bool = True) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) when over the limit.

        ``exact=False`` uses the sliding-window counter: constant cost per hit, and the count over the
        last window is estimated from the previous fixed window, weighted by its remaining overlap."""
        item = _parse(limit) if isinstance(limit, str) else limit
        strategy: strategies.RateLimiter = self.limiter if exact else self.counter
        if await strategy.hit(item, *identifiers):
            return
        stats = await strategy.get_window_stats(item, *identifiers)
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def clear(self, limit: str, *identifiers: str) -> None:
        await self.limiter.clear(_parse(limit), *identifiers)
        await self.counter.clear(_parse(limit), *identifiers)
