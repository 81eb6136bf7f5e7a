"""The client's events against a fake receiver at the transport (the outside world of these tests):
exposure ids within the server's 128 characters, exposures of units the server would refuse, events
that could never be sent (refused at ``track``, never blocking the queue), and batches bounded by
encoded size and split in halves on a 413."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from experimently_sdk.client import Client
from experimently_sdk.client.events import EVENT_ID_MAX, MAX_BATCH_BYTES, exposure_id

# The same vectors (inputs and expected ids) as sdk/js/test/events.test.mjs: both SDKs and the server
# make the same id for an exposure, so it is stored once whoever sends it.
EXPOSURE_IDS = [
    ("checkout", "user-42", "exposure:checkout:user-42"),
    ("exp", "u" * 115, "exposure:exp:" + "u" * 115),  # exactly 128 code points: as it is
    ("exp", "u" * 116, "exposure:551eb1ff17c2f096ccc6819dca6423640ab8a08cca473bb5"),  # 129: hashed
    ("exp", "\U0001f600" * 115, "exposure:exp:" + "\U0001f600" * 115),  # 128 code points (243 UTF-16 units)
    ("café", "\U0001f600" * 120, "exposure:f2cb904e328d620ccd3e1f8c070ed6c2c2fbbd78f9e9e754"),  # UTF-8 hashed
]

FLAG = {
    "key": "g",
    "type": "boolean",
    "version": 1,
    "salt": "g",
    "enabled": True,
    "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "off_variation": "off",
    "fallthrough": {"variation": "on"},
}
EXPERIMENT = {
    "key": "exp",
    "salt": "exp",
    "status": "running",
    "variants": [{"key": "control", "weight": 50}, {"key": "treatment", "weight": 50}],
}
LONG_KEY = "e" * 100  # the longest experiment key the server takes
PAYLOAD = {
    "environment": "production",
    "flags": [FLAG],
    "segments": [],
    "experiments": [EXPERIMENT, {**EXPERIMENT, "key": LONG_KEY, "salt": LONG_KEY}],
    "guarded_rollouts": {"g": "r1.1"},
}


class Receiver:
    """The server as the client meets it: ``GET /api/v1/sdk/flags`` answers ``payload``;
    ``POST /api/v1/events/batch`` answers 413 to a body over ``max_body`` bytes
    (EXPERIMENTLY_MAX_BODY_BYTES), else 202, parses strict JSON only and records what it accepted."""

    def __init__(self, max_body: int = 2 * 1024 * 1024, payload: dict[str, Any] = PAYLOAD) -> None:
        self.max_body = max_body
        self.payload = payload
        self.accepted: list[dict[str, Any]] = []
        self.answers: list[tuple[int, int]] = []  # (events in the request, status)
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sdk/flags":
            return httpx.Response(200, json={"data": self.payload}, headers={"ETag": '"v1"'})
        body = request.read()
        events = json.loads(body, parse_constant=_refuse_constant)["events"]
        with self.lock:
            if len(body) > self.max_body:
                self.answers.append((len(events), 413))
                error = {"code": "PAYLOAD_TOO_LARGE", "message": "request body too large"}
                return httpx.Response(413, json={"error": error})
            self.answers.append((len(events), 202))
            self.accepted.extend(events)
        return httpx.Response(202, json={"data": {"accepted": len(events), "rejected": []}})


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@contextmanager
def client(receiver: Receiver, **options: Any) -> Iterator[Client]:
    settings: dict[str, Any] = {
        "init_timeout": 0,
        "stream": False,
        "poll_interval": 3600,
        "bootstrap": receiver.payload,
        "flush_interval": 0.02,
        "close_timeout": 2,
        "transport": httpx.MockTransport(receiver),
    }
    with Client("key", "http://experimently.test", **{**settings, **options}) as c:
        yield c


# ----- exposure ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("experiment_key", "unit", "expected"), EXPOSURE_IDS)
def test_exposure_id__shared_vectors(experiment_key: str, unit: str, expected: str) -> None:
    assert exposure_id(experiment_key, unit) == expected
    assert len(expected) <= EVENT_ID_MAX


def test_exposure__long_key_and_unit__sent_with_the_hashed_id() -> None:
    # Given an experiment key of 100 characters and a unit of 150 (an id of 260 characters as it is)
    receiver = Receiver()
    unit = "u" * 150
    with client(receiver) as c:
        # When the unit is assigned
        variant = c.get_variant(LONG_KEY, unit)
        assert variant is not None
        assert c.flush(10)
        # Then its exposure is sent with the server's id, within 128 characters
    [event] = receiver.accepted
    assert event["event_id"] == exposure_id(LONG_KEY, unit) == "exposure:" + event["event_id"][9:]
    assert len(event["event_id"]) == 57
    assert (event["name"], event["user_id"], event["variant"]) == ("exposure", unit, variant)
    assert c.dropped_events == 0


def test_exposure__unit_over_200_characters__not_queued__counted__warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="experimently_sdk")
    receiver = Receiver()
    with client(receiver) as c:
        # Given units the server would refuse as a user_id (over 200 characters)
        for unit in ("a" * 201, "b" * 201):
            # When they are assigned and served a flag under a guarded rollout
            # (the server leaves such a unit out of experiments, so the SDK does; a flag still answers)
            assert c.get_variant("exp", unit) is None
            assert c.is_enabled("g", unit) is True
        c.get_variant("exp", "a" * 201)  # a repeat: deduplicated, not counted again
        # and a unit of exactly 200 characters is sent as usual
        c.get_variant("exp", "c" * 200)
        assert c.flush(10)
        # Then no exposure of theirs is queued; each flag exposure is counted as dropped; one warning
        assert c.dropped_events == 2
    assert [e["user_id"] for e in receiver.accepted] == ["c" * 200]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "201 characters" in warnings[0] and "200" in warnings[0], warnings


def test_exposure__unit_with_a_lone_surrogate__variant_answered__exposure_dropped__queue_moves() -> None:
    # Given units no server could take (a lone surrogate has no UTF-8), with a short and a long id,
    # assigned by the experiment's overrides
    short, long = "\ud800", "\ud800" * 50
    overridden = {
        **EXPERIMENT,
        "key": LONG_KEY,
        "salt": LONG_KEY,
        "overrides": {short: "control", long: "treatment"},
    }
    receiver = Receiver(payload={**PAYLOAD, "experiments": [overridden]})
    with client(receiver) as c:
        # When they are assigned, Then the variant is still answered; the exposure is dropped
        assert c.get_variant(LONG_KEY, short) == "control"  # a readable id
        assert c.get_variant(LONG_KEY, long) == "treatment"  # a hashed id
        c.track("after", "u1")
        assert c.flush(10) is True  # neither was queued: nothing failed to send
        assert c.dropped_events == 2
    assert [e["name"] for e in receiver.accepted] == ["after"]


# ----- events that could never be sent ---------------------------------------------------------------


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


INVALID: list[tuple[Any, Any, str]] = [
    (math.nan, None, "value must be a finite number"),
    (math.inf, None, "value must be a finite number"),
    (-math.inf, None, "value must be a finite number"),
    ("9.5", None, "value must be a number, not str"),
    (True, None, "value must be a number, not bool"),
    (10**400, None, "value must be a finite number"),
    (None, {"price": math.nan}, "properties are not plain JSON"),
    (None, {"nested": [{"ratio": math.inf}]}, "properties are not plain JSON"),
    (None, {"tags": {"a", "b"}}, "set is not JSON serializable"),
    (None, {"at": datetime(2026, 1, 1, tzinfo=UTC)}, "datetime is not JSON serializable"),
    (None, _cycle(), "Circular reference"),
    (None, {"text": "\ud800"}, "surrogates not allowed"),
    (None, ["not", "a", "dict"], "properties must be a dict, not list"),
]


@pytest.mark.parametrize(("value", "properties", "reason"), INVALID)
def test_track__invalid_value_or_properties__not_queued__warned_with_name_and_reason(
    value: Any, properties: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="experimently_sdk")
    receiver = Receiver()
    with client(receiver) as c:
        # When the application tracks an event that could never be sent
        c.track("checkout", "u1", value, properties)  # never raises
        # Then it is not queued: counted as dropped, and a later valid event still goes out
        assert c.dropped_events == 1
        c.track("purchase", "u1", 9.5, {"sku": "a"})
        assert c.flush(10) is True
    assert [(e["name"], e["value"], e["properties"]) for e in receiver.accepted] == [
        ("purchase", 9.5, {"sku": "a"})
    ]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "'checkout'" in warning and reason in warning, warning


def test_track__invalid_events__warned_once_per_name__every_one_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="experimently_sdk")
    with client(Receiver()) as c:
        for _ in range(50):
            c.track("checkout", "u1", math.nan)
        c.track("signup", "u1", properties={"at": {1, 2}})
        assert c.dropped_events == 51
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "'checkout'" in warnings[0] and "'signup'" in warnings[1], warnings


def test_track__numbers_of_any_kind__sent_as_floats() -> None:
    receiver = Receiver()
    with client(receiver) as c:
        c.track("a", "u1", 3)
        c.track("b", 42, 2.5, {"n": 1, "ok": True, "none": None, "list": [1, "x"]})
        assert c.flush(10) and c.dropped_events == 0
    assert [(e["name"], e["user_id"], e["value"]) for e in receiver.accepted] == [
        ("a", "u1", 3.0),
        ("b", "42", 2.5),
    ]


def test_sender__event_changed_after_track__dropped_with_a_log_line__the_rest_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given properties that were plain JSON when tracked and are changed before they are sent
    receiver = Receiver()
    properties: dict[str, Any] = {"sku": "a"}
    with client(receiver, flush_interval=3600) as c:
        c.track("before", "u1", 1.0)
        c.track("changed", "u1", properties=properties)
        properties["price"] = math.nan
        c.track("after", "u1", 2.0)
        # When the queue is sent, Then the one event is dropped and logged, the others go out
        assert c.flush(10) is False  # not everything queued was sent
        assert c.dropped_events == 1
        c.track("later", "u1")
        assert c.flush(10) is True  # nothing stays at the head of the queue
    assert [e["name"] for e in receiver.accepted] == ["before", "after", "later"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "'changed' dropped" in errors[0], errors


# ----- batches bounded by encoded size, 413 split ----------------------------------------------------


def _big(i: int) -> dict[str, Any]:
    return {"i": i, "blob": "x" * 8_000}  # about the server's 8 KiB limit of properties


def test_batches__bounded_by_encoded_size__none_refused_by_the_default_body_limit() -> None:
    # Given 500 events of about 8 KiB each (a batch of the default size would be about 4 MB)
    receiver = Receiver()  # the server's default body limit, 2 MiB
    with client(receiver, flush_interval=3600) as c:
        for i in range(500):
            c.track("big", f"u{i}", properties=_big(i))
        # When they are sent, Then every request stays within 1 MiB: nothing refused, nothing lost
        assert c.flush(30) is True
        assert c.dropped_events == 0
    assert all(status == 202 for _, status in receiver.answers)
    assert len(receiver.answers) >= 4
    assert sorted(e["properties"]["i"] for e in receiver.accepted) == list(range(500))
    assert MAX_BATCH_BYTES == 1024 * 1024


def test_batches__413__split_in_halves_until_accepted__nothing_lost() -> None:
    # Given a server with a body limit of 64 KiB (EXPERIMENTLY_MAX_BODY_BYTES set low)
    receiver = Receiver(max_body=64 * 1024)
    with client(receiver, flush_interval=3600) as c:
        for i in range(100):
            c.track("big", f"u{i}", properties=_big(i))
        # When a batch is refused with 413, Then it is sent again in halves, recursively
        assert c.flush(30) is True
        assert c.dropped_events == 0
    assert 413 in {status for _, status in receiver.answers}
    assert sorted(e["properties"]["i"] for e in receiver.accepted) == list(range(100))
    assert len({e["event_id"] for e in receiver.accepted}) == 100
    # a refused batch of n events is followed by its first half
    for (count, status), (following, _) in zip(receiver.answers, receiver.answers[1:], strict=False):
        if status == 413:
            assert following == (count + 1) // 2


def test_batches__one_event_alone_too_large__dropped_counted_logged__the_rest_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = Receiver(max_body=16 * 1024)
    with client(receiver, flush_interval=3600) as c:
        c.track("small", "u1", 1.0)
        c.track("huge", "u2", properties={"blob": "x" * 20_000})
        c.track("small", "u3", 2.0)
        assert c.flush(30) is False  # the server refused one
        assert c.dropped_events == 1
        c.track("small", "u4")
        assert c.flush(30) is True
    assert [e["user_id"] for e in receiver.accepted] == ["u1", "u3", "u4"]
    assert any("too large (413); dropped" in r.getMessage() for r in caplog.records)


def test_bucketing__lone_surrogate__hashed_as_u_fffd__never_crashes() -> None:
    # mmh3 given a str holding a lone surrogate crashes the interpreter: the engine hands it bytes,
    # with U+FFFD for the surrogate, as the TypeScript engine's TextEncoder writes it
    from experimently_sdk.bucketing import bucket, utf8

    assert bucket("seed", "a\ud800b") == bucket("seed", "a\ufffdb")
    assert bucket("seed", "\ud83d\ude00") == bucket("seed", "\U0001f600")  # a pair is one character
    assert utf8("plain") == "plain" and utf8("é") == "é".encode()
    # and through the client: a rollout and an experiment answer for such a unit, as for its U+FFFD form
    rollout = {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
    split = {**FLAG, "key": "split", "salt": "split", "fallthrough": {"rollout": rollout}}
    receiver = Receiver(payload={**PAYLOAD, "flags": [FLAG, split]})
    with client(receiver, send_events=False) as c:
        units = [f"{i}\ud800" for i in range(40)]
        served = [c.variation_detail("split", u, default=False).variation for u in units]
        assert served == [c.variation_detail("split", u.replace("\ud800", "\ufffd")).variation for u in units]
        assert set(served) == {"on", "off"}
        variants = [c.get_variant("exp", u) for u in units]
        assert variants == [c.get_variant("exp", u.replace("\ud800", "\ufffd")) for u in units]
        assert set(variants) == {"control", "treatment"}


def test_queue_full__dropped__warned_at_once_and_rarely__next_flush_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="experimently_sdk")
    receiver = Receiver()
    gate = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/sdk/flags":
            gate.wait(10)  # the server hangs: nothing leaves the queue meanwhile
        return receiver(request)

    with client(receiver, event_capacity=5, event_batch_size=1, transport=httpx.MockTransport(slow)) as c:
        # When more events are tracked than the queue holds while the server does not answer
        c.track("first", "u0")
        while c._events is not None and c._events.pending and c._events._queue:
            pass  # the sender took the first into flight and hangs on it
        for i in range(8):
            c.track("e", f"u{i}")
        # Then the overflow is dropped and counted, and said once (not once per event)
        assert c.dropped_events == 3
        full = [r.getMessage() for r in caplog.records if "buffer is full" in r.getMessage()]
        assert len(full) == 1 and "3 events dropped" not in full[0] and "(5 events)" in full[0], full
        gate.set()
        # the flush that follows says events were lost; the one after it, with nothing lost, does not
        assert c.flush(10) is False
        c.track("later", "u1")
        assert c.flush(10) is True
    assert len(receiver.accepted) == 1 + 5 + 1
