"""The Redis circuit (kit.redis_retry): after one time-out, the process's other commands fail at once
instead of each waiting for its own; one probe at a time finds out when Redis answers again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError, TimeoutError

from experimently.kit.redis_retry import (
    HOLD_SECONDS,
    SOCKET_TIMEOUT,
    Circuit,
    RedisUnanswered,
    circuit,
    guarded_client,
    quick_retry,
)
from experimently.ratelimit import RateLimiter
from tests.private_services import PrivateRedis, available
from tests.private_services import private_redis as start_private_redis


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_circuit__closed__sends_everything() -> None:
    breaker = Circuit(Clock())
    assert breaker.admit() is False and breaker.admit() is False
    assert not breaker.is_open()


def test_circuit__after_a_time_out__holds_back_then_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = Circuit(clock)
    breaker.timed_out()
    # held back for the hold, unsent
    assert breaker.is_open()
    with pytest.raises(RedisUnanswered):
        breaker.admit()
    clock.now += HOLD_SECONDS - 0.01
    with pytest.raises(RedisUnanswered):
        breaker.admit()
    # then one probe; the others still fail at once while it is out
    clock.now += 0.02
    assert breaker.admit() is True
    with pytest.raises(RedisUnanswered):
        breaker.admit()
    assert breaker.is_open()
    # the probe timed out too: held back again for a whole hold
    breaker.timed_out()
    breaker.probe_done()
    with pytest.raises(RedisUnanswered):
        breaker.admit()
    clock.now += HOLD_SECONDS
    assert breaker.admit() is True
    # the probe answered: closed, everything is sent
    breaker.answered()
    breaker.probe_done()
    assert breaker.admit() is False and not breaker.is_open()


def test_circuit__is_a_connection_error_to_callers() -> None:
    # every caller degrades on redis's ConnectionError (degraded.classify): an unsent command is one
    assert issubclass(RedisUnanswered, ConnectionError)


def test_circuit__one_per_redis() -> None:
    assert circuit("redis://127.0.0.1:1/0") is circuit("redis://127.0.0.1:1/0")
    assert circuit("redis://127.0.0.1:1/0") is not circuit("redis://127.0.0.1:2/0")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if not available():
        pytest.skip("needs redis-server on PATH")
    with start_private_redis() as server:
        yield server


async def test_guarded_client__hanging_redis__one_time_out_then_immediate_answers(
    private_redis: PrivateRedis,
) -> None:
    client = guarded_client(
        private_redis.url, socket_connect_timeout=1, socket_timeout=SOCKET_TIMEOUT, retry=quick_retry()
    )
    try:
        await client.set("k", "1")
        private_redis.pause()
        try:
            # a blocking read times out (twice: the retry) without opening the circuit: it waits
            # most of the time-out by design, so a busy event loop can make a healthy one time out
            with pytest.raises(TimeoutError):
                await client.xread({"s": "$"}, block=250)
            assert not client.circuit.is_open()
            # the first command waits for its read time-out and its retry's, once
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await client.get("k")
            first = time.monotonic() - started
            assert 2 * SOCKET_TIMEOUT - 0.05 <= first < 2 * SOCKET_TIMEOUT + 0.8, first
            assert client.circuit.is_open()
            # the next ones, here and in any other client of that Redis, fail at once, unsent
            other = guarded_client(private_redis.url, socket_timeout=SOCKET_TIMEOUT, retry=quick_retry())
            started = time.monotonic()
            for command in (client.get("k"), client.incr("n"), other.get("k")):
                with pytest.raises(RedisUnanswered):
                    await command
            assert time.monotonic() - started < 0.05
            await other.aclose()
        finally:
            private_redis.resume()
        # once Redis answers, the first command after the hold gets through and closes the circuit
        await asyncio.sleep(HOLD_SECONDS)
        assert await client.get("k") == b"1"
        assert not client.circuit.is_open()
        assert await client.incr("n") == 1
    finally:
        await client.aclose()


async def test_rate_limiter__reads_and_trips_the_shared_circuit(private_redis: PrivateRedis) -> None:
    limiter = RateLimiter(private_redis.url)
    await limiter.hit("1000/minute", "api-key", "k")
    breaker = circuit(private_redis.url)
    private_redis.pause()
    try:
        # its own time-out opens the circuit every client of that Redis shares (it answers locally)
        started = time.monotonic()
        await limiter.hit("1000/minute", "api-key", "k")
        assert time.monotonic() - started < 2 * SOCKET_TIMEOUT + 0.8
        assert breaker.is_open()
        # while the circuit is open it does not try Redis at all, even when its own pause is over
        limiter._retry_at = 0.0
        started = time.monotonic()
        await limiter.hit("1000/minute", "api-key", "k")
        assert time.monotonic() - started < 0.05
    finally:
        private_redis.resume()
    # and its answer from Redis closes it
    await asyncio.sleep(HOLD_SECONDS)
    limiter._retry_at = 0.0
    await limiter.hit("1000/minute", "api-key", "k")
    assert not breaker.is_open()
