"""What an integrator gets wrong, and what a server does to a client over a day, said the way the
docs promise: a second outage as loudly as the first, a refused key once, a refused stream once, a
ruleset awaited through a slow start, events that cannot be sent refused at ``track``, a forked child
that works, and configuration mistakes that neither crash nor leak the key."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from experimently_sdk.client import Client
from tests.sdk.fake import receiver
from tests.sdk.live import LiveServer, copy_database, free_port
from tests.sdk.ruleset import put_flag
from tests.sdk.test_failures import _serve


def _said(caplog: pytest.LogCaptureFixture, text: str, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage() and r.levelno >= level]


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


DOWN = "experimently: server unreachable"


def test_two_outages_while_streaming__each_said__and_each_recovery(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = copy_database(migrated_sqlite, tmp_path)
    port = free_port()
    process = _serve(data_dir, port)
    live = LiveServer("sqlite", data_dir, port=port)  # its admin helpers; the process serves
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        key = live.sdk_key()
        with Client(key, live.base_url, init_timeout=30, send_events=False, reconnect_cap=1.0) as client:
            assert client.initialized
            for outage in (1, 2):
                # When the server dies, Then a warning says so (the second time as well)
                process.send_signal(signal.SIGKILL)
                process.wait(30)
                _until(lambda: len(_said(caplog, DOWN)) >= outage, 30, f"outage {outage}")
                # When it is back, Then the stream reconnects and a warning says the server answers again
                process = _serve(data_dir, port)
                _until(lambda: len(_said(caplog, "answers again")) >= outage, 60, "recovery")
            # (a failure that changes on the way, a reset then a refusal, is said again: documented)
            assert 2 <= len(_said(caplog, DOWN)) <= 4
    finally:
        live.stop()
        process.kill()
        process.wait(30)


def test_refused_key_while_streaming__said_once_not_once_per_reconnect(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        with Client(
            "xp_wrong", server.base_url, init_timeout=5, send_events=False, reconnect_cap=1.0
        ) as client:
            time.sleep(3.0)  # several reconnections (at most a second apart), each refused
            assert client._updater is not None and client._updater.reconnects >= 2
    finally:
        server.stop()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and "401" in loud[0] and "API key is invalid" in loud[0], loud


def test_stream_refused_for_too_many_connections__said_once__polls(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer(
        "sqlite", copy_database(migrated_sqlite, tmp_path), sdk_stream_max_connections_per_key=1
    ).start()
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = server.sdk_key()
        options: dict[str, Any] = {
            "init_timeout": 10,
            "send_events": False,
            "poll_interval": 1.0,
        }
        with Client(key, server.base_url, **options) as first:
            _until(lambda: first._updater is not None and first._updater.connected, 10, "first stream")
            with Client(key, server.base_url, **options) as second:
                time.sleep(1.0)  # several refused attempts
                put_flag(server, "f", {"enabled": True})
                _until(lambda: second.is_enabled("f", "u"), 10, "the polling client never saw the change")
        assert len(_said(caplog, "refused the stream (429")) == 1
    finally:
        server.stop()


def test_wait_for_initialization__waits_through_a_failed_first_fetch(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    # Given a server that is not up yet when the client starts
    data_dir = copy_database(migrated_sqlite, tmp_path)
    port = free_port()
    process = _serve(data_dir, port)
    live = LiveServer("sqlite", data_dir, port=port)
    try:
        key = live.sdk_key()
        process.kill()
        process.wait(30)
        with Client(key, live.base_url, init_timeout=0, reconnect_cap=1.0) as client:
            started = time.monotonic()
            assert client.wait_for_initialization(0.3) is False  # nothing yet: it waited its time
            assert time.monotonic() - started >= 0.25
            process = _serve(data_dir, port)
            # When the server comes up within the wait, Then the wait ends with a ruleset
            assert client.wait_for_initialization(60) is True and client.initialized
        offline = Client(key, offline=True)
        started = time.monotonic()
        assert offline.wait_for_initialization(5) is False and time.monotonic() - started < 1
    finally:
        live.stop()
        process.kill()
        process.wait(30)


def test_events_that_cannot_be_sent__refused_at_track__after_close_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    with receiver() as (fake, url):
        client = Client("key", url, init_timeout=0, stream=False, flush_interval=0.05)
        # a unit that is not one: never sent under a made-up user "None"
        for bad in (None, "", True, 1.5, "x" * 201):
            client.track("purchase", bad)  # type: ignore[arg-type]
        # a name the server refuses: not sent to be refused there, flush after flush
        for name in (None, "", 5, "n" * 101):
            client.track(name, "u1")  # type: ignore[arg-type]
        client.track("purchase", "u1", 2.0)
        client.track("purchase", 42)
        client.track("n" * 100, "u3")
        assert client.dropped_events == 9
        assert client.flush(10) is True  # invalid events are refused at track, not lost after it
        client.close()
        assert sorted(e["user_id"] for e in fake.accepted) == ["42", "u1", "u3"]
        # When the application tracks after close(), Then it is said once, counted, and flush says so
        client.track("late", "u1")
        client.track("late", "u2")
        started = time.monotonic()
        assert client.flush(5) is False and time.monotonic() - started < 1
        assert client.dropped_events == 11
        assert len(_said(caplog, "events tracked after close()")) == 1
        assert len(fake.accepted) == 3
    assert _said(caplog, "user_id must be a string or an integer, not NoneType")
    assert _said(caplog, "the event name must be a string, not NoneType")
    assert _said(caplog, "the event name is empty")
    assert _said(caplog, "the event name is longer than the server takes (100 characters)")


def test_events_refused_by_the_server__named_in_the_warning(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        with Client(server.sdk_key(), server.base_url, init_timeout=10, stream=False) as client:
            client.track("ok", "u1")
            client.track("big", "u1", properties={"blob": "x" * 9000})  # more than the server takes
            assert client.flush(10) is False
    finally:
        server.stop()
    [warning] = _said(caplog, "the server refused 1 events")
    assert "'big': properties" in warning, warning


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_forked_child__gets_updates_and_sends_its_events(tmp_path: Path, migrated_sqlite: Path) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = server.sdk_key()
        with Client(key, server.base_url, init_timeout=10, flush_interval=0.05) as client:
            assert client.is_enabled("f", "u") is False
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # the child: its own threads; a change made now must reach it
                code = 1
                try:
                    os.close(read)
                    os.write(write, b"r")
                    deadline = time.monotonic() + 30
                    while not client.is_enabled("f", "u") and time.monotonic() < deadline:
                        time.sleep(0.05)
                    client.track("from-child", "child-unit")
                    code = 0 if client.is_enabled("f", "u") and client.flush(20) else 3
                finally:
                    os._exit(code)
            os.close(write)
            assert os.read(read, 1) == b"r"
            time.sleep(0.5)  # the child's stream connects
            put_flag(server, "f", {"enabled": True})
            _, status = os.waitpid(child, 0)
            assert os.waitstatus_to_exitcode(status) == 0, "the child saw no change or lost its event"
        names = [e["name"] for e in server.call("GET", "/api/v1/events", params={"limit": 100})]
        assert "from-child" in names
    finally:
        server.stop()


def test_configuration_mistakes__no_exception__no_key_in_the_log(
    tmp_path: Path, migrated_sqlite: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    try:
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        key = server.sdk_key()
        # the API's URL for the server's, and a key read from a file with its newline: both work
        with Client(key + "\n", server.base_url + "/api/v1/", init_timeout=10, send_events=False) as client:
            assert client.initialized
        assert _said(caplog, "base_url is the server's root")
        # a key broken inside, an unset key, no URL: a line that says so, at once, defaults served
        broken = key[:6] + "\n" + key[6:]
        for sdk_key, base in (
            (broken, server.base_url),
            (None, server.base_url),
            (key, None),
            (key, server.base_url.removeprefix("http://")),  # no scheme: every request would fail
        ):
            started = time.monotonic()
            with Client(sdk_key, base, init_timeout=5) as client:  # type: ignore[arg-type]
                assert client.is_enabled("f", "u", default=True) is True
            assert time.monotonic() - started < 1
        messages = [r.getMessage() for r in caplog.records]
        assert not [m for m in messages if key[6:] in m], "the key reached the log"
        assert _said(caplog, "no SDK key given", logging.ERROR)
        assert _said(caplog, "characters no HTTP header carries", logging.ERROR)
        assert _said(caplog, "base_url must be the server's URL, not None", logging.ERROR)
        assert _said(caplog, "base_url must be an http:// or https:// URL, not '127.0.0.1:", logging.ERROR)
    finally:
        server.stop()


@contextlib.contextmanager
def _page_server() -> Iterator[tuple[list[str], str]]:
    """A site that answers every GET with a 200 HTML page (a login page, a base URL a path too deep on
    a proxy): what a misconfigured client meets. Yields the paths asked for and the site's URL."""
    asked: list[str] = []

    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            body = b"<!doctype html><title>Sign in</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield asked, f"http://127.0.0.1:{server.server_address[1]}/foo"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_instead_of_the_server__said_once_with_the_root_url_hint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the HTML "stream" counted as the server answering again, then the HTML ruleset as a failure:
    # two warnings per reconnect for ever, and "server unreachable" rather than "wrong URL"
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    with (
        _page_server() as (asked, url),
        Client("key", url, init_timeout=2, send_events=False, reconnect_cap=1.0) as client,
    ):
        _until(lambda: len([p for p in asked if p.endswith("/stream")]) >= 5, 10, "reconnects")
        assert not client.initialized
    [said] = _said(caplog, "experimently:", logging.WARNING)
    assert "answered 200 with text/html, not JSON (is 'http://127.0.0.1:" in said, said
    assert "/foo' the server's root URL?)" in said, said
    assert not _said(caplog, "answers again")


def test_poll_interval_zero__polls_once_a_second_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    # 0 polled in a tight loop: ~350 requests a second against the server
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    with _page_server() as (asked, url):
        with Client("key", url, init_timeout=0, stream=False, poll_interval=0, send_events=False):
            time.sleep(2.5)
        assert 2 <= len(asked) <= 4, asked
    assert _said(caplog, "poll_interval 0 is below 1.0s or not a number: polling every 1.0s")


def test_reconnect_cap_and_flush_interval_near_zero__server_down__no_tight_loop__each_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a reconnect_cap of 0.001 reconnected hundreds of times a second while the server was down, and a
    # flush_interval of 0 kept a core busy with nothing to send
    caplog.set_level(logging.DEBUG, logger="experimently_sdk")
    down = f"http://127.0.0.1:{free_port()}"
    with Client(
        "key", down, init_timeout=0, reconnect_cap=0.001, flush_interval=0, close_timeout=0
    ) as client:
        started = time.process_time()
        time.sleep(1.0)
        busy = time.process_time() - started
        reconnects = client._updater.reconnects if client._updater else 0
    assert reconnects <= 10, f"{reconnects} reconnects in 1 s"
    assert busy < 0.3, f"{busy:.2f} s of CPU in 1 s"
    assert (
        len(
            _said(
                caplog, "reconnect_cap 0.001 is below 1.0s or not a number: reconnecting after at most 1.0s"
            )
        )
        == 1
    )
    assert len(_said(caplog, "flush_interval must be a number of seconds from 0.001 to")) == 1
