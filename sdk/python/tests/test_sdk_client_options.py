"""The client's numeric options as used: a value that is not a number (a bool is not one), out of its
range, or not whole for a count is one warning naming the option, and the default; ``poll_interval``
and ``reconnect_cap`` below their floor are the floor. Never a crash later, never a tight loop, never
a string's value in the log (it may be a secret)."""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from experimently_sdk.client import AsyncClient, Client
from experimently_sdk.client.client import MAX_DELAY, MIN_POLL_INTERVAL, MIN_RECONNECT_CAP
from experimently_sdk.client.events import EventProcessor, retry_delay

LOGGER = "experimently_sdk"
MAX = "2147483.647"

# option -> how the client holds the value it uses
USED: dict[str, Callable[[Client], Any]] = {
    "poll_interval": lambda c: c._updater_args["poll_interval"],
    "reconnect_cap": lambda c: c._updater_args["backoff_cap"],
    "stream_read_timeout": lambda c: c._updater_args["read_timeout"],
    "event_capacity": lambda c: c._events_args["capacity"] if c._events_args else None,
    "event_batch_size": lambda c: c._events_args["batch_size"] if c._events_args else None,
    "flush_interval": lambda c: c._events_args["flush_interval"] if c._events_args else None,
    "dedup_capacity": lambda c: (c._dedup._capacity, c._dedup_capacity, c._sticky_capacity),
    "sticky_timeout": lambda c: c.sticky_timeout,
    "http_timeout": lambda c: c._http_args["timeout"],
    "close_timeout": lambda c: c.close_timeout,
}
DEFAULTS: dict[str, Any] = {
    "poll_interval": 30.0,
    "reconnect_cap": 30.0,
    "stream_read_timeout": 60.0,
    "event_capacity": 10_000,
    "event_batch_size": 500,
    "flush_interval": 2.0,
    "dedup_capacity": (100_000, 100_000, 100_000),
    "sticky_timeout": 0.5,
    "http_timeout": 5.0,
    "close_timeout": 5.0,
}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _offline(**options: Any) -> Client:
    return Client("key", "http://experimently.test", offline=True, **options)


def _refusing(counter: list[str] | None = None) -> httpx.MockTransport:
    """No server: every request fails to connect (and is counted by path)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if counter is not None:
            counter.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.MockTransport(handler)


def _accepting(accepted: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sdk/flags":
            payload = {"environment": "production", "flags": [], "segments": []}
            return httpx.Response(200, json={"data": payload}, headers={"ETag": '"v1"'})
        events = json.loads(request.read())["events"]
        accepted.extend(events)
        return httpx.Response(202, json={"data": {"accepted": len(events), "rejected": []}})

    return httpx.MockTransport(handler)


DURATIONS = [n for n in USED if n not in ("event_capacity", "event_batch_size", "dedup_capacity")]
WRONG_DURATIONS: list[tuple[Any, str]] = [
    (-1, "-1"),
    ("2", "a str"),
    (True, "a bool"),
    (None, "None"),
    (math.nan, "nan"),
    (math.inf, "inf"),
    (MAX_DELAY * 2, "4294967.294"),
    ([1], "a list"),
]


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(("value", "shown"), WRONG_DURATIONS)
def test_a_wrong_duration__one_warning_naming_it__the_default_used(
    name: str, value: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with _offline(**{name: value}) as client:
        used = USED[name](client)
    [warning] = _warnings(caplog)
    low, floor = {
        "poll_interval": (1.0, "polling every"),
        "reconnect_cap": (1.0, "reconnecting after at most"),
    }.get(name, (None, ""))
    if low is not None and not (
        isinstance(value, int | float) and not isinstance(value, bool) and value > low
    ):
        # below the floor, or not a number: the floor
        assert warning == f"experimently: {name} {shown} is below 1.0s or not a number: {floor} 1.0s"
        assert used == low
        return
    smallest = {"sticky_timeout": "0", "close_timeout": "0", "poll_interval": "1", "reconnect_cap": "1"}
    expected = (
        f"experimently: {name} must be a number of seconds from {smallest.get(name, '0.001')} to {MAX}, "
        f"not {shown}: using the default, {DEFAULTS[name]}"
    )
    assert warning == expected
    assert used == DEFAULTS[name]


COUNTS = {
    "event_capacity": "9007199254740991",
    "event_batch_size": "1000",
    "dedup_capacity": "9007199254740991",
}


@pytest.mark.parametrize("name", list(COUNTS))
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (-3, "-3"),
        (2.5, "2.5"),
        (True, "a bool"),
        (False, "a bool"),
        ("10", "a str"),
        (math.nan, "nan"),
    ],
)
def test_a_wrong_count__one_warning__the_default__a_bool_is_no_count(
    name: str, value: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with _offline(**{name: value}) as client:
        used = USED[name](client)
    default = DEFAULTS[name][0] if name == "dedup_capacity" else DEFAULTS[name]
    assert _warnings(caplog) == [
        f"experimently: {name} must be a whole number from 1 to {COUNTS[name]}, not {shown}: "
        f"using the default, {default}"
    ]
    assert used == DEFAULTS[name]


def test_a_batch_over_the_servers_limit__the_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with _offline(event_batch_size=1001) as client:
        assert client._events_args is not None and client._events_args["batch_size"] == 500
    assert _warnings(caplog) == [
        "experimently: event_batch_size must be a whole number from 1 to 1000, not 1001: "
        "using the default, 500"
    ]


def test_every_option_at_its_bounds__used_as_given__not_a_word(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    smallest: dict[str, Any] = {
        "init_timeout": 0,
        "poll_interval": MIN_POLL_INTERVAL,
        "reconnect_cap": MIN_RECONNECT_CAP,
        "stream_read_timeout": 0.001,
        "event_capacity": 1,
        "event_batch_size": 1,
        "flush_interval": 0.001,
        "dedup_capacity": 1,
        "sticky_timeout": 0,
        "http_timeout": 0.001,
        "close_timeout": 0,
    }
    with _offline(**smallest) as client:
        assert client._updater_args == {
            "stream": True,
            "poll_interval": 1.0,
            "read_timeout": 0.001,
            "backoff_cap": 1.0,
        }
        assert client._events_args == {"capacity": 1, "batch_size": 1, "flush_interval": 0.001}
        assert (client._http_args["timeout"], client.sticky_timeout, client.close_timeout) == (0.001, 0, 0)
        assert (client._dedup._capacity, client._dedup_capacity, client._sticky_capacity) == (1, 1, 1)
    largest: dict[str, Any] = dict.fromkeys([*DURATIONS, "init_timeout"], MAX_DELAY)
    largest |= {"event_capacity": 2**53 - 1, "event_batch_size": 1000, "dedup_capacity": 2**53 - 1}
    with _offline(**largest) as client:
        assert client._events_args == {"capacity": 2**53 - 1, "batch_size": 1000, "flush_interval": MAX_DELAY}
        assert client._updater_args["backoff_cap"] == MAX_DELAY
    # a whole float is a count (the JavaScript client takes 500.0 as 500)
    with _offline(event_batch_size=250.0) as client:
        assert client._events_args is not None and client._events_args["batch_size"] == 250
        assert type(client._events_args["batch_size"]) is int
    assert _warnings(caplog) == []


def test_a_string_option_is_never_quoted__it_may_be_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    secret = "xp_live_0123456789abcdef"
    with _offline(poll_interval=secret, reconnect_cap=secret, http_timeout=secret, event_capacity=secret):
        pass
    said = _warnings(caplog)
    assert len(said) == 4, said
    assert not [m for m in caplog.messages if secret in m], caplog.messages
    assert said[0] == "experimently: poll_interval a str is below 1.0s or not a number: polling every 1.0s"


def test_flush_interval_zero__the_default__the_events_thread_does_not_spin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 0 made the sender wait(0) in a loop: a core busy with nothing to send
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    options: dict[str, Any] = {"init_timeout": 0, "stream": False, "poll_interval": 3600, "close_timeout": 0}
    with Client(
        "key", "http://experimently.test", flush_interval=0, transport=_refusing(), **options
    ) as client:
        assert client._events is not None and client._events.flush_interval == 2.0
        started = time.process_time()
        time.sleep(0.5)
        busy = time.process_time() - started
    assert busy < 0.2, f"{busy:.2f} s of CPU in 0.5 s, with nothing to send"
    assert _warnings(caplog)[0] == (
        "experimently: flush_interval must be a number of seconds from 0.001 to 2147483.647, not 0: using "
        "the default, 2.0"
    )


def test_event_batch_size_zero__the_default__events_still_leave(caplog: pytest.LogCaptureFixture) -> None:
    # 0 took nothing from the queue, for ever: flush never answered True, the sender never stopped
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    accepted: list[dict[str, Any]] = []
    options: dict[str, Any] = {"init_timeout": 5, "stream": False, "poll_interval": 3600, "close_timeout": 1}
    with Client(
        "key", "http://experimently.test", event_batch_size=0, transport=_accepting(accepted), **options
    ) as client:
        client.track("purchase", "u1", 1.0)
        assert client.flush(2) is True
    assert [e["name"] for e in accepted] == ["purchase"]
    assert _warnings(caplog) == [
        "experimently: event_batch_size must be a whole number from 1 to 1000, not 0: using the default, 500"
    ]


def test_init_timeout_not_a_number__the_default__no_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    accepted: list[dict[str, Any]] = []
    cases: list[tuple[Any, str]] = [("5", "a str"), (-1, "-1"), (math.inf, "inf")]
    for value, _ in cases:
        # "5" > 0 raised a TypeError from the constructor
        with Client(
            "key", "http://experimently.test", init_timeout=value, transport=_accepting(accepted)
        ) as client:
            assert client.initialized  # the default wait: the first fetch was waited for
    assert _warnings(caplog) == [
        f"experimently: init_timeout must be a number of seconds from 0 to {MAX}, not {shown}: "
        "using the default, 5.0"
        for _, shown in cases
    ]


async def test_async_client__the_same_checks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = AsyncClient("key", "http://experimently.test", offline=True, init_timeout="5", flush_interval=0)
    assert client.init_timeout == 5.0
    assert client.sync._events_args is not None and client.sync._events_args["flush_interval"] == 2.0
    assert await client.wait_for_initialization() is False  # offline, no bootstrap: at once
    await client.close()
    assert _warnings(caplog) == [
        f"experimently: init_timeout must be a number of seconds from 0 to {MAX}, not a str: "
        "using the default, 5.0",
        f"experimently: flush_interval must be a number of seconds from 0.001 to {MAX}, not 0: "
        "using the default, 2.0",
    ]


def test_reconnect_cap_below_its_floor__one_warning__no_tight_reconnect_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 0.001 reconnected in a tight loop while the server was down: hundreds of attempts a second
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    asked: list[str] = []
    with Client(
        "key",
        "http://experimently.test",
        init_timeout=5,
        send_events=False,
        reconnect_cap=0.001,
        transport=_refusing(asked),
    ) as client:
        assert client._updater is not None and client._updater.backoff_cap == MIN_RECONNECT_CAP
        time.sleep(1.0)
        streams = asked.count("/api/v1/sdk/stream")
    assert 1 <= streams <= 10, f"{streams} stream attempts in 1 s"
    said = _warnings(caplog)
    assert (
        said[0]
        == "experimently: reconnect_cap 0.001 is below 1.0s or not a number: reconnecting after at most 1.0s"
    )
    assert len([m for m in said if "reconnect_cap" in m]) == 1


# ----- long outages: the backoff's exponent ---------------------------------------------------------


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.mark.parametrize("attempt", [0, 1, 10, 64, 1023, 1024, 10_000])
def test_retry_delay__any_attempt__within_the_cap(attempt: int) -> None:
    # 0.5 * 2**1024 is beyond a float: an OverflowError
    assert 0 <= retry_delay(attempt, None, 0.5, 30.0) <= 30.0
    assert retry_delay(attempt, "60", 0.5, 30.0) == 60.0


def test_a_thousand_failed_reconnects__the_update_thread_lives_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The attempt count grows by one per failed reconnect: at the 1,025th (a server down for about
    # four hours at the default cap, minutes at a cap of 1 s) the OverflowError ended the update
    # thread, and the client never followed a change again. Jitter drawn at 0 gets there at once.
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    up = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if not up.is_set():
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/api/v1/sdk/flags":
            payload = {"environment": "production", "flags": [], "segments": []}
            return httpx.Response(200, json={"data": payload}, headers={"ETag": '"v1"'})
        return httpx.Response(503)

    with Client(
        "key",
        "http://experimently.test",
        init_timeout=0,
        send_events=False,
        transport=httpx.MockTransport(handler),
    ) as client:
        updater = client._updater
        assert updater is not None
        _until(lambda: updater.reconnects > 1_100 or not updater._thread.is_alive(), 60, "1,100 reconnects")
        assert updater._thread.is_alive()
        up.set()  # the server is back: the client follows it again
        _until(lambda: client.initialized, 10, "the ruleset after the outage")


def test_a_thousand_failed_sends__the_events_thread_lives_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    attempts = 0
    up = threading.Event()

    def post(body: bytes) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        request = httpx.Request("POST", "http://experimently.test/api/v1/events/batch")
        if not up.is_set():
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(202, json={"data": {"accepted": 1, "rejected": []}}, request=request)

    events = EventProcessor(post, capacity=10, batch_size=10, flush_interval=0.01)
    events.add((None, "purchase", "u1", 1.0, None, None, None, time.time()))
    _until(lambda: attempts > 1_100 or not events._thread.is_alive(), 60, "1,100 attempts")
    assert events._thread.is_alive()
    up.set()
    assert events.flush(5) is True
    assert events.sent == 1
    events.close(1)
