"""The client never breaks the application: server down at start, killed mid-stream, failing or
throttling the event receiver, or hanging."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from experimently_sdk.client import Client
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.sdk.fake import receiver
from tests.sdk.live import LiveServer, copy_database, free_port
from tests.sdk.ruleset import put_flag


def test_server_down_at_start__defaults_then_bootstrap__no_exception(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with Client("key", down, init_timeout=5, reconnect_cap=1.0, close_timeout=0.5) as client:
        assert not client.initialized
        assert client.is_enabled("f", "u1") is False
        assert client.is_enabled("f", "u1", default=True) is True
        detail = client.variation_detail("f", "u1", default="x")
        assert (detail.value, detail.reason, detail.error_code) == ("x", "ERROR", "FLAG_NOT_FOUND")
        assert client.get_variant("e", "u1") is None
        client.track("purchase", "u1", 9.5)
        assert client.all_flags("u1") == {}
    bootstrap = tmp_path / "flags.json"
    flag = {
        "key": "f",
        "type": "boolean",
        "version": 1,
        "salt": "f",
        "enabled": True,
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "off_variation": "off",
        "fallthrough": {"variation": "on"},
    }
    bootstrap.write_text(json.dumps({"data": {"environment": "production", "flags": [flag], "segments": []}}))
    with Client("key", down, init_timeout=1, bootstrap=bootstrap) as client:
        assert client.initialized and client.is_enabled("f", "u1") is True
    with Client("key", down, offline=True, bootstrap=tmp_path / "missing.json") as client:
        assert client.is_enabled("f", "u1") is False  # a bad bootstrap is logged, not raised


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EXPERIMENTLY_DATA_DIR": str(data_dir),
        "EXPERIMENTLY_ADMIN_EMAIL": ADMIN_EMAIL,
        "EXPERIMENTLY_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "EXPERIMENTLY_RUN_JOBS": "false",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
    }
    env.pop("EXPERIMENTLY_DATABASE_URL", None)
    env.pop("EXPERIMENTLY_REDIS_URL", None)
    command = [sys.executable, "-m", "experimently.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_server_killed_mid_stream__keeps_serving__reconnects_and_catches_up(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    # Given a client streaming from a real server process
    data_dir = copy_database(migrated_sqlite, tmp_path)
    port = free_port()
    process = _serve(data_dir, port)
    live = LiveServer("sqlite", data_dir, port=port)  # only for its admin helpers: the process serves
    try:
        live.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        put_flag(live, "f", {"enabled": True})
        key = live.sdk_key()
        with Client(key, live.base_url, init_timeout=30, send_events=False, reconnect_cap=1.0) as client:
            assert client.is_enabled("f", "u1") is True
            # When the process is killed
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            live.stop()
            # Then the client keeps serving the last known ruleset
            assert client.is_enabled("f", "u1") is True
            # When a server is back and the flag changes there, Then the client reconnects and catches up
            process = _serve(data_dir, port)
            put_flag(live, "f", {"enabled": False})
            deadline = time.monotonic() + 60
            while client.is_enabled("f", "u1"):
                assert time.monotonic() < deadline, "the client never caught up"
                time.sleep(0.05)
            # and its stream is open again: the first one ended (counted as it ends, so read first) and
            # one is open now (the catch-up may have come from the fetch after a failed attempt)
            updater = client._updater
            assert updater is not None
            while not (updater.reconnects >= 1 and updater.connected):
                assert time.monotonic() < deadline, "the client never reconnected its stream"
                time.sleep(0.05)
    finally:
        live.stop()
        process.kill()
        process.wait(30)


def test_events__5xx_and_429_retried__nothing_lost_within_the_buffer() -> None:
    with receiver() as (fake, url):
        fake.script = [(503, {}), (500, {}), (429, {"Retry-After": "0"}), (502, {})]
        with Client(
            "key", url, init_timeout=0, stream=False, event_batch_size=100, flush_interval=0.05
        ) as client:
            for i in range(1_000):
                client.track("purchase", f"u{i}", float(i))
            assert client.flush(60)
            assert client.dropped_events == 0
        assert sorted(e["value"] for e in fake.accepted) == [float(i) for i in range(1_000)]
        assert fake.attempts == 10 + 4  # ten batches, four refused and retried
        assert len({e["event_id"] for e in fake.accepted}) == 1_000


def test_wrong_key__flush_false__the_server_says_why_once(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a real server and a client with a key it does not know
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        with Client(
            "exp_wrong", server.base_url, init_timeout=10, stream=False, poll_interval=0.05
        ) as client:
            # When it tracks and flushes
            client.track("purchase", "u1", 1.0)
            # Then flush says the events were not accepted, and they are counted as dropped
            assert client.flush(10) is False
            assert client.dropped_events == 1
            time.sleep(0.3)  # a few polls more, each refused the same way
    finally:
        server.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    # the server's own words reach the log: once for the ruleset (not once per poll), once for the batch
    fetches = [m for m in errors if "ruleset fetch answered 401" in m]
    assert len(fetches) == 1 and "API key is invalid" in fetches[0], errors
    assert any("events refused with 401 (API key is invalid" in m for m in errors), errors


def test_server_down__said_at_warning_once__and_when_it_answers_again(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a key of a server that is then stopped
    data_dir = copy_database(migrated_sqlite, tmp_path)
    port = free_port()
    process = _serve(data_dir, port)
    live = LiveServer("sqlite", data_dir, port=port)
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        key = live.sdk_key()
        process.kill()
        process.wait(30)
        with Client(
            key, live.base_url, init_timeout=5, stream=False, poll_interval=0.05, send_events=False
        ) as client:
            # When the client polls it for a while, Then the outage is one warning, not one per poll
            time.sleep(0.5)
            assert not client.initialized
            down = [r for r in caplog.records if "server unreachable" in r.getMessage()]
            assert [r.levelno for r in down if r.levelno >= logging.INFO] == [logging.WARNING]
            # When the server is back, Then the client says so and initializes
            process = _serve(data_dir, port)
            deadline = time.monotonic() + 30
            while not client.initialized:
                assert time.monotonic() < deadline, "the client never initialized"
                time.sleep(0.05)
        assert any("the server answers again" in r.getMessage() for r in caplog.records)
    finally:
        live.stop()
        process.kill()
        process.wait(30)


def test_events__buffer_bound__excess_dropped_and_counted() -> None:
    with receiver() as (fake, url):
        fake.release.clear()  # the receiver hangs: nothing leaves the buffer
        client = Client(
            "key",
            url,
            init_timeout=0,
            stream=False,
            event_capacity=100,
            event_batch_size=50,
            flush_interval=0.05,
            close_timeout=30,
        )
        try:
            for i in range(300):
                client.track("click", f"u{i}")
            # at most one batch of 50 in flight, 100 queued: the rest is dropped and counted
            assert client.dropped_events >= 150
            fake.release.set()
            # the flush sends what was kept, and says that events were lost since the last one
            assert client.flush(30) is False
            client.track("later", "u0")
            assert client.flush(30) is True  # nothing lost since
        finally:
            client.close()
        assert len(fake.accepted) == 301 - client.dropped_events


def test_slow_server__calls_return_while_the_server_hangs(tmp_path: Path) -> None:
    bootstrap = tmp_path / "flags.json"
    flag = {
        "key": "f",
        "type": "boolean",
        "version": 1,
        "salt": "f",
        "enabled": True,
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "off_variation": "off",
        "fallthrough": {"variation": "on"},
    }
    payload = {"environment": "production", "flags": [flag], "segments": [], "guarded_rollouts": {"f": "r.1"}}
    bootstrap.write_text(json.dumps(payload))
    with receiver() as (fake, url):
        fake.release.clear()  # every request hangs until released
        client = Client("key", url, init_timeout=0, bootstrap=bootstrap, flush_interval=0.01)
        try:
            for i in range(200):
                assert client.is_enabled("f", f"u{i}") is True  # exposures queued, never awaited
                client.track("view", f"u{i}")
            deadline = time.monotonic() + 30
            while fake.in_flight < 2:  # the ruleset fetch and an event batch are both stuck
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert client.variation("f", "u1") is True and client.all_flags("u1") == {"f": True}
        finally:
            fake.release.set()
            client.close()
        assert {e["name"] for e in fake.accepted} == {"view", "flag_exposure"}
