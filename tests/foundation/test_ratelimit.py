"""Rate limiter strategies: the exact moving window and the constant-cost sliding-window counter."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from limits import parse

from experimently.errors import RateLimited
from experimently.ratelimit import SYNC_FRACTION, SYNC_SECONDS, LocalCounters, RateLimiter, _key_for
from tests.conftest import REDIS_URL


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


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_local_counters__limit_per_window__previous_window_weighted() -> None:
    clock = FakeClock(6000.0)  # the start of a 60 s window
    counters = LocalCounters(clock)
    assert all(counters.hit("k", 10, 60) == 0.0 for _ in range(10))
    wait = counters.hit("k", 10, 60)  # the 11th: refused until the window ends (nothing to fade)
    assert wait == pytest.approx(60.0, abs=0.01)
    assert counters.hit("other", 10, 60) == 0.0  # keys are separate
    # a quarter into the next window the previous 10 weigh 7.5: floor(7.5 + n) + 1 <= 10 admits 3
    clock.now = 6060.0 + 15
    assert [counters.hit("k", 10, 60) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = counters.hit("k", 10, 60)  # 7.5 + 3: the next fits once the previous weighs < 10 - 3
    assert wait == pytest.approx(45 - 7 * 60 / 10, abs=0.01)
    clock.now += wait
    assert counters.hit("k", 10, 60) == 0.0  # the wait it gave is enough
    # two windows later nothing remains of either
    clock.now = 6180.0 + 1
    assert all(counters.hit("k", 10, 60) == 0.0 for _ in range(10))


def test_local_counters__retry_after_is_the_first_moment_a_hit_fits() -> None:
    clock = FakeClock(6060.0 + 30)
    counters = LocalCounters(clock)
    counters._windows["k"] = [101, 4, 12, 60]  # previous window 12 hits, current 4; estimate 10
    wait = counters.hit("k", 10, 60)
    assert wait > 0
    clock.now += wait - 0.01
    assert counters.hit("k", 10, 60) > 0  # just before: still refused
    clock.now += 0.01
    assert counters.hit("k", 10, 60) == 0.0


def test_local_counters__ended_windows_pruned() -> None:
    clock = FakeClock(6000.0)
    counters = LocalCounters(clock)
    for i in range(100):
        counters.hit(f"ip-{i}", 10, 60)
    clock.now += 200  # past both windows and the prune interval
    counters.hit("fresh", 10, 60)
    assert list(counters._windows) == ["fresh"]


async def test_local_counter__no_task_and_no_thread_per_hit() -> None:
    limiter = RateLimiter(None)
    before = len(asyncio.all_tasks())
    threads = threading.active_count()
    for _ in range(100):
        await limiter.hit("1000/minute", "api-key", "k", exact=False)
    assert len(asyncio.all_tasks()) == before and threading.active_count() == threads


@pytest.mark.skipif(REDIS_URL is None, reason="needs Redis (EXPERIMENTLY_TEST_REDIS_URL)")
async def test_shared_counters__two_processes__limit_held_within_the_batch_slack() -> None:
    assert REDIS_URL is not None
    key = uuid.uuid4().hex
    one, two = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)  # two processes' limiters
    limit = 1000  # a batch is 0.5%: 5 hits
    admitted = 0
    for i in range(1300):
        try:
            await (one if i % 2 else two).hit(f"{limit}/hour", "api-key", key, exact=False)
            admitted += 1
        except RateLimited as refused:
            assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # at most each process's unsent batch beyond the limit, never more
    assert limit <= admitted <= limit + 2 * (int(limit * SYNC_FRACTION) + 1)
    # Redis holds what the processes sent: a third process sees the key over its limit
    three = RateLimiter(REDIS_URL)
    with pytest.raises(RateLimited):
        await three.hit(f"{limit}/hour", "api-key", key, exact=False)
    for limiter in (one, two, three):
        await limiter.clear(f"{limit}/hour", "api-key", key)


@pytest.mark.skipif(REDIS_URL is None, reason="needs Redis (EXPERIMENTLY_TEST_REDIS_URL)")
async def test_shared_counters__a_small_limit_is_counted_exactly_in_redis() -> None:
    assert REDIS_URL is not None
    key = uuid.uuid4().hex
    one, two = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    admitted = 0
    for i in range(60):
        try:
            await (one if i % 2 else two).hit("50/hour", "api-key", key, exact=False)
            admitted += 1
        except RateLimited:
            pass
    assert admitted == 50
    await one.clear("50/hour", "api-key", key)


@pytest.mark.skipif(REDIS_URL is None, reason="needs Redis (EXPERIMENTLY_TEST_REDIS_URL)")
async def test_shared_counters__pending_hits_sent_within_the_sync_interval() -> None:
    assert REDIS_URL is not None
    key = uuid.uuid4().hex
    one = RateLimiter(REDIS_URL)
    clock = FakeClock(1000.0)
    one.shared_counters.clock = clock
    for _ in range(3):  # below the batch of 5: held here
        await one.hit("1000/hour", "api-key", key, exact=False)
    observer = RateLimiter(REDIS_URL)
    assert observer.shared is not None
    item = parse("1000/hour")
    stats = await observer.shared.counter.get_window_stats(item, "api-key", key)
    assert stats.remaining == 1000
    clock.now += SYNC_SECONDS  # the next hit after the interval sends them all
    await one.hit("1000/hour", "api-key", key, exact=False)
    stats = await observer.shared.counter.get_window_stats(item, "api-key", key)
    assert stats.remaining == 1000 - 4
    await one.clear("1000/hour", "api-key", key)


def test_remembered_keys_are_the_librarys_and_never_another_items() -> None:
    first, second = parse("10/minute"), parse("20/minute")
    assert _key_for(first, ("api-key", "k1")) == first.key_for("api-key", "k1")
    assert _key_for(first, ("api-key", "k1")) == first.key_for("api-key", "k1")  # remembered
    assert _key_for(second, ("api-key", "k1")) == second.key_for("api-key", "k1")
    assert _key_for(first, ("api-key", "k1")) != _key_for(second, ("api-key", "k1"))
