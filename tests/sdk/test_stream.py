"""The SDK stream over a real socket: payload on connect, changes pushed, Last-Event-ID resume, the
bound on connections per key, and a change through one instance reaching a client on another."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import connect_sse

from experimently_sdk.client import Client
from tests.conftest import PG_URL, REDIS_URL, _truncate_postgres
from tests.private_services import private_redis
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import put_flag


def first_event(base_url: str, key: str, **headers: str) -> tuple[int, Any]:
    with (
        httpx.Client(base_url=base_url, timeout=30) as http,
        connect_sse(http, "GET", "/api/v1/sdk/stream", headers={"X-API-Key": key, **headers}) as sse,
    ):
        if sse.response.status_code != 200:
            return sse.response.status_code, sse.response.read()
        return 200, next(iter(sse.iter_sse()))


def test_stream__payload_on_connect__changes_pushed__resume__bounded_per_key(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    server = LiveServer(
        "sqlite",
        copy_database(migrated_sqlite, tmp_path),
        sdk_stream_max_connections_per_key=2,
        sdk_stream_heartbeat_seconds=0.2,
    ).start()
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = server.sdk_key()
        etag = server.admin.get("/api/v1/sdk/flags", headers={"X-API-Key": key, "Authorization": ""}).headers[
            "etag"
        ]
        events: list[Any] = []
        opened = threading.Event()

        def listen() -> None:
            with (
                httpx.Client(base_url=server.base_url, timeout=30) as http,
                connect_sse(http, "GET", "/api/v1/sdk/stream", headers={"X-API-Key": key}) as sse,
            ):
                for event in sse.iter_sse():
                    if event.event not in ("put", "ready"):
                        continue  # heartbeats
                    events.append(event)
                    opened.set()
                    if len(events) == 2:
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened.wait(30)
        # Then the payload of GET /sdk/flags comes first, its version as the event id
        assert events[0].event == "put" and events[0].id == etag.strip('"')
        assert events[0].json()["payload"]["flags"][0]["key"] == "f"
        # heartbeats: SSE comment lines while nothing changes
        with httpx.stream(
            "GET", f"{server.base_url}/api/v1/sdk/stream", headers={"X-API-Key": key}, timeout=30
        ) as raw:
            assert any(line.startswith(":") for line, _ in zip(raw.iter_lines(), range(50)))
        # a second connection resuming from the current version gets "ready", not the payload again
        status, event = first_event(server.base_url, key, **{"Last-Event-ID": etag.strip('"')})
        assert status == 200 and event.event == "ready"
        # a third concurrent connection of the key is refused (one is open, the bound is 2)
        with (
            httpx.Client(base_url=server.base_url, timeout=30) as other,
            connect_sse(other, "GET", "/api/v1/sdk/stream", headers={"X-API-Key": key}) as held,
        ):
            assert held.response.status_code == 200
            status, body = first_event(server.base_url, key)
            assert status == 429 and b"RATE_LIMIT_EXCEEDED" in body
        # When the flag changes, Then the open stream gets the new payload
        put_flag(server, "f", {"enabled": True})
        listener.join(30)
        assert len(events) == 2 and events[1].event == "put"
        assert events[1].json()["payload"]["flags"][0]["enabled"] is True
        assert events[1].id != events[0].id
        # a person's token is refused
        status, _ = first_event(server.base_url, "not-a-key")
        assert status == 401
        # the streams were counted as requests, their lifetimes kept out of the latency histogram
        from experimently.middleware import DURATION, REQUESTS

        assert REQUESTS.labels("GET", "/api/v1/sdk/stream", "200")._value.get() >= 4
        assert DURATION.labels("GET", "/api/v1/sdk/stream")._sum.get() == 0
    finally:
        server.stop()


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="two instances share PostgreSQL and Redis")
def test_two_instances_on_one_redis__change_through_a_reaches_client_on_b(
    tmp_path: Path, migrated_postgres: str | None
) -> None:
    assert migrated_postgres is not None and REDIS_URL is not None
    asyncio.run(_truncate_postgres(migrated_postgres))
    redis.Redis.from_url(REDIS_URL).flushdb()
    a = LiveServer("postgres", tmp_path / "a").start()
    b = LiveServer("postgres", tmp_path / "b").start()
    try:
        a.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = a.sdk_key()
        seen = threading.Event()
        with Client(key, b.base_url, init_timeout=30, send_events=False) as client:
            client.on_change(lambda change: seen.set() if "f" in change.keys else None)
            assert client.is_enabled("f", "u1") is False
            deadline = time.monotonic() + 10
            while client._updater is None or not client._updater.connected:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            put_flag(a, "f", {"enabled": True})
            assert seen.wait(30), "the change through A never reached the client on B"
            assert client.is_enabled("f", "u1") is True
    finally:
        a.stop()
        b.stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_down__connected_clients_keep_streaming__cross_instance_resumes_when_redis_returns(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    data_dir = copy_database(migrated_sqlite, tmp_path)  # two instances on one database file
    with contextlib.ExitStack() as cleanup:
        private = cleanup.enter_context(private_redis())  # our own Redis, killed by this test, ended by PID
        a = LiveServer("sqlite", data_dir, redis_url=private.url)  # each picks a free port when made:
        cleanup.callback(a.stop)  # started before the next is made
        a.start()
        b = LiveServer("sqlite", data_dir, redis_url=private.url)
        cleanup.callback(b.stop)
        b.start()
        a.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = a.sdk_key()
        with Client(key, b.base_url, init_timeout=30, send_events=False) as client:
            assert client.is_enabled("f", "u") is False
            assert b.admin is not None  # logged in now: logins are rate-limited through Redis
            # When Redis dies, Then a change through B still reaches B's connected client
            private.stop(kill=True)
            put_flag(b, "f", {"enabled": True})
            deadline = time.monotonic() + 30
            while not client.is_enabled("f", "u"):
                assert time.monotonic() < deadline, "a change through B did not reach B's client"
                time.sleep(0.05)
            # When Redis returns, Then a change through A reaches the client on B again
            private.start()
            time.sleep(2)  # the instances' subscribers reconnect (they retry every second)
            put_flag(a, "f", {"enabled": False})
            deadline = time.monotonic() + 30
            while client.is_enabled("f", "u"):
                assert time.monotonic() < deadline, "a change through A did not reach B's client"
                time.sleep(0.05)


def test_server_stopping__open_stream_ends_cleanly(tmp_path: Path, migrated_sqlite: Path) -> None:
    from sse_starlette.sse import AppStatus

    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = server.sdk_key()
        outcome: dict[str, Any] = {}
        opened = threading.Event()

        def listen() -> None:
            try:
                with (
                    httpx.Client(base_url=server.base_url, timeout=30) as http,
                    connect_sse(http, "GET", "/api/v1/sdk/stream", headers={"X-API-Key": key}) as sse,
                ):
                    for event in sse.iter_sse():
                        outcome.setdefault("events", []).append(event.event)
                        opened.set()
                outcome["ended"] = "cleanly"
            except Exception as exc:  # a response cut mid-body: RemoteProtocolError
                outcome["ended"] = repr(exc)

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened.wait(30)
        # When the server starts shutting down (what uvicorn's SIGTERM handler makes sse-starlette see)
        AppStatus.should_exit = True
        try:
            listener.join(15)
        finally:
            AppStatus.should_exit = False
        # Then the stream ends itself and its response completes: the client sees an end, not a cut
        assert outcome.get("ended") == "cleanly", outcome
        assert outcome["events"][0] == "put"
    finally:
        server.stop()


def _listen_until_end(base_url: str, key: str, outcome: dict[str, Any], opened: threading.Event) -> None:
    """Read a stream until it ends; what it saw and how it ended land in ``outcome``."""
    try:
        with (
            httpx.Client(base_url=base_url, timeout=60) as http,
            connect_sse(http, "GET", "/api/v1/sdk/stream", headers={"X-API-Key": key}) as sse,
        ):
            for event in sse.iter_sse():
                outcome.setdefault("events", []).append(event.event)
                opened.set()
        outcome["ended"] = time.monotonic()
    except Exception as exc:
        outcome["error"] = repr(exc)


def test_key_revoked_or_expired__its_open_stream_ends__reconnecting_is_refused(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key_id = server.call(
            "POST",
            "/api/v1/api-keys",
            201,
            json={"name": "sdk", "environment": "production", "scopes": ["evaluate"]},
        )
        revoked: dict[str, Any] = {"events": []}
        opened = threading.Event()
        threading.Thread(
            target=_listen_until_end, args=(server.base_url, key_id["key"], revoked, opened), daemon=True
        ).start()
        assert opened.wait(30)
        # When an admin revokes the key while its stream is open
        server.call("POST", f"/api/v1/api-keys/{key_id['id']}/revoke")
        asked = time.monotonic()
        deadline = asked + 10
        while "ended" not in revoked and "error" not in revoked:
            assert time.monotonic() < deadline, "the revoked key's stream stayed open"
            time.sleep(0.02)
        # Then the stream ends at once, cleanly, with nothing more sent, and a reconnection is refused
        assert revoked["ended"] - asked < 1.0 and revoked["events"] == ["put"], revoked
        put_flag(server, "f", {"enabled": True})
        assert first_event(server.base_url, key_id["key"])[0] == 401

        # When a key's expiry passes while its stream is open (checked again every recheck_seconds)
        server.rt.sdk_stream.recheck_seconds = 0.2
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        body = {"name": "brief", "environment": "production", "scopes": ["evaluate"], "expires_at": soon}
        brief = server.call("POST", "/api/v1/api-keys", 201, json=body)["key"]
        expired: dict[str, Any] = {"events": []}
        opened = threading.Event()
        threading.Thread(
            target=_listen_until_end, args=(server.base_url, brief, expired, opened), daemon=True
        ).start()
        assert opened.wait(30)
        deadline = time.monotonic() + 10
        while "ended" not in expired and "error" not in expired:
            assert time.monotonic() < deadline, "the expired key's stream stayed open"
            time.sleep(0.05)
        # Then it ends too
        assert "ended" in expired and first_event(server.base_url, brief)[0] == 401
    finally:
        server.stop()
