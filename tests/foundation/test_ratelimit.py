"""Rate limiter strategies: the exact moving window and the constant-cost sliding-window counter."""

from __future__ import annotations

import pytest

from experimently.errors import RateLimited
from experimently.ratelimit import RateLimiter


@pytest.mark.parametrize("exact", [True, False])
async def test_hit__over_the_limit__raises_with_retry_after(exact: bool) -> None:
    limiter = RateLimiter(None)
    for _ in range(3):
        await limiter.hit("3/minute", "api-key", "k1", exact=exact)
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("3/minute", "api-key", "k1", exact=exact)
    assert 1 <= int(raised.value.headers["Retry-After"]) <= 60
    await limiter.hit("3/minute", "api-key", "k2", exact=exact)  # other identifiers are separate


async def test_clear__resets_both_strategies() -> None:
    limiter = RateLimiter(None)
    for exact in (True, False):
        for _ in range(2):
            await limiter.hit("2/minute", "login", "x", exact=exact)
    for exact in (True, False):  # both windows are full
        with pytest.raises(RateLimited):
            await limiter.hit("2/minute", "login", "x", exact=exact)
    await limiter.clear("2/minute", "login", "x")
    for exact in (True, False):  # empty again: a full window's worth passes, then the limit applies
        for _ in range(2):
            await limiter.hit("2/minute", "login", "x", exact=exact)
        with pytest.raises(RateLimited):
            await limiter.hit("2/minute", "login", "x", exact=exact)
