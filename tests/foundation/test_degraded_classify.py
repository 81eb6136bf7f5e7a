"""Telling and riding out an outage: a bare socket error is attributed to the client library it came out
of (a refused connection to PostgreSQL is the database's outage even in code that also talks to Redis:
the event writer logged "redis down" during a PostgreSQL restart before this), a command against a Redis
that is down fails fast, and one against a restarted Redis reconnects instead of failing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from experimently import degraded, errors
from experimently.degraded import DATABASE, REDIS, dependency_of
from experimently.runtime import build_runtime
from tests.conftest import make_settings
from tests.private_services import available, free_port, private_redis


async def test_refused_postgres_connection__is_the_database() -> None:
    with pytest.raises(OSError) as caught:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="postgres", timeout=2)
    assert dependency_of(caught.value) == DATABASE


async def test_refused_redis_connection__is_redis() -> None:
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=2)
    try:
        with pytest.raises(Exception) as caught:
            await client.ping()
        assert dependency_of(caught.value) == REDIS
    finally:
        await client.aclose()


async def test_refused_socket_of_no_client_of_ours__is_network() -> None:
    with pytest.raises(OSError) as caught:
        await asyncio.open_connection("127.0.0.1", free_port())
    assert dependency_of(caught.value) == "network"


def test_not_a_connection_error__is_nothing() -> None:
    assert dependency_of(ValueError("x")) is None


async def test_redis_down__a_command_fails_fast__not_after_ten_retries(tmp_path: Path) -> None:
    # redis-py's default policy (10 retries, backoff to 1 s) took ~4 s per command here, which every
    # request touching Redis during an outage paid before its degraded answer
    runtime = build_runtime(make_settings("sqlite", tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        assert runtime.redis is not None
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await runtime.redis.ping()
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        await runtime.limiter.hit("10/minute", "fast")  # falls back to the per-process limit
        assert time.monotonic() - started < 1.0
    finally:
        await runtime.close()


@pytest.mark.skipif(not available(), reason="needs redis-server")
async def test_redis_restarted__the_next_command_reconnects_without_an_error(tmp_path: Path) -> None:
    with private_redis() as server:
        runtime = build_runtime(make_settings("sqlite", tmp_path, redis_url=server.url))
        try:
            assert runtime.redis is not None
            assert await runtime.redis.ping()
            server.stop()
            server.start()
            assert await runtime.redis.ping()  # the closed connection is retried once, reconnected
        finally:
            await runtime.close()


async def _refused_by_redis() -> BaseException:
    """What a Redis client raises against a port nothing listens on."""
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=2)
    try:
        with pytest.raises(Exception) as caught:
            await client.ping()
    finally:
        await client.aclose()
    return caught.value


def _recorded_warnings(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The warnings ``errors`` logs, as dicts (the process's logger may be configured and cached by
    earlier tests)."""
    logs: list[dict[str, Any]] = []

    class Recorder:
        def warning(self, event: str, **fields: Any) -> None:
            logs.append({"event": event, **fields})

    monkeypatch.setattr(errors, "log", Recorder())
    return logs


async def test_an_outage_answered_many_times__one_log_line_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line per 503 (1,014 lines in a 32-second PostgreSQL outage) buries the two that matter; one
    line per dependency per interval says how many answers it stands for."""
    refused = await _refused_by_redis()
    throttle = errors._Throttle(interval=0.2)
    monkeypatch.setattr(errors, "_UNAVAILABLE_LOG", throttle)
    logs = _recorded_warnings(monkeypatch)
    for _ in range(500):
        body, headers = errors.unavailable_body(refused, "r1") or ({}, {})
        assert headers == {"Retry-After": "1"} and body["error"]["code"] == "SERVICE_UNAVAILABLE"
    await asyncio.sleep(0.25)
    errors.unavailable_body(refused, "r2")
    lines = [entry for entry in logs if entry["event"] == "request.dependency_unavailable"]
    assert [(entry["dependency"], entry["answers_503"]) for entry in lines] == [("redis", 1), ("redis", 500)]


async def test_throttled_503_lines__the_last_ones_said_when_the_dependency_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator walk: the 503s of an outage's last interval were logged only at the next outage,
    counted with it (38 answers of one PostgreSQL outage logged two minutes later, on a 0.3 s restart)."""
    refused = await _refused_by_redis()
    monkeypatch.setattr(errors, "_UNAVAILABLE_LOG", errors._Throttle(interval=60))
    logs = _recorded_warnings(monkeypatch)
    degraded.mark_down(degraded.REDIS, refused)
    for _ in range(38):
        errors.unavailable_body(refused, "r1")
    degraded.mark_up(degraded.REDIS)  # the outage is over: the 37 not yet said are said now
    errors.unavailable_body(refused, "r2")  # a new outage starts its own count
    lines = [(e["answers_503"], e.get("outage_over", False)) for e in logs]
    assert lines == [(1, False), (37, True), (1, False)]
