"""The in-process cache level stays bounded and honours invalidation."""

from __future__ import annotations

from experimently.cache import Cache


async def test_l1__bounded__expired_then_oldest_evicted() -> None:
    cache = Cache(None, max_entries=100)
    for i in range(250):
        cache.put_local("results", f"k{i}", i)
    assert len(cache._l1) <= 100
    assert cache.peek("results", "k249") == 249 and cache.peek("results", "k0") is None


async def test_get_or_load__loads_once_then_serves_l1__invalidate_reloads() -> None:
    cache = Cache(None)
    calls = 0

    async def loader() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"v": calls}

    assert await cache.get_or_load("ns", "a", loader) == {"v": 1}
    assert await cache.get_or_load("ns", "a", loader) == {"v": 1}
    await cache.invalidate("ns")
    assert await cache.get_or_load("ns", "a", loader) == {"v": 2}
