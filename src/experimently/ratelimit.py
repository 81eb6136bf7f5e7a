"""Rate limits on the ``limits`` library (moving window), Redis-backed when Redis is configured."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from experimently.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = RedisStorage(uri, implementation="redispy", key_prefix="experimently-rl")
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)

    async def hit(self, limit: str | RateLimitItem, *identifiers: str) -> None:
        """Count one hit; raise RateLimited (429 with Retry-After) when over the limit."""
        item = parse(limit) if isinstance(limit, str) else limit
        if await self.limiter.hit(item, *identifiers):
            return
        stats = await self.limiter.get_window_stats(item, *identifiers)
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def clear(self, limit: str, *identifiers: str) -> None:
        await self.limiter.clear(parse(limit), *identifiers)
