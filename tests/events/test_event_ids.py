"""Event ids made by the server (events sent without one) and by the Python SDK (one generator,
``experimently_sdk.ids``) are UUIDv7 in hex: the time first, so ids made close in time sort close
together in the key index."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import pytest

from experimently.config import Settings
from experimently.events.validation import EventRow, _validate_fields, validate_event
from experimently_sdk.client.events import _encode
from experimently_sdk.ids import time_ordered_id

SETTINGS = Settings()
UUID7_HEX = re.compile(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}")


def _ms(event_id: str) -> int:
    return int(event_id[:12], 16)


def test_time_ordered_id__uuid7_hex__time_first__unique() -> None:  # the server's and the client's
    make = time_ordered_id
    before = int(time.time() * 1000)
    ids = [make() for _ in range(10_000)]
    after = int(time.time() * 1000)
    assert all(UUID7_HEX.fullmatch(i) for i in ids)
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert all(before <= _ms(i) <= after for i in ids)
    assert len(set(ids)) == len(ids)
    # ids of later milliseconds sort after earlier ones: the order the key index sees
    assert [_ms(i) for i in sorted(ids)] == sorted(_ms(i) for i in ids)


def test_time_ordered_id__given_time__encoded_exactly() -> None:
    assert _ms(time_ordered_id(1_700_000_000.123)) == 1_700_000_000_123
    assert time_ordered_id(1.0)[:12] == "0000000003e8"
    a, b = time_ordered_id(1_700_000_000.0), time_ordered_id(1_700_000_000.001)
    assert a < b


@pytest.mark.parametrize("check", [validate_event, _validate_fields])  # the inline and the full path
def test_server__event_without_id__gets_a_time_ordered_one(check: Callable[..., EventRow]) -> None:
    now = time.time()
    received = int(now * 1_000_000)
    row = check(
        {"name": "purchase", "user_id": "u1"},
        environment="production",
        received_us=received,
        settings=SETTINGS,
    )
    assert UUID7_HEX.fullmatch(row.event_id)
    assert abs(_ms(row.event_id) - now * 1000) < 60_000
    given = {"name": "purchase", "user_id": "u1", "event_id": "mine"}
    assert check(given, environment="production", received_us=received, settings=SETTINGS).event_id == "mine"


def test_sdk__queued_event_without_id__encoded_with_a_time_ordered_one() -> None:
    event = _encode((None, "purchase", "u1", None, None, None, None, time.time()))
    assert UUID7_HEX.fullmatch(event["event_id"])
    assert _encode(("given", "purchase", "u1", None, None, None, None, time.time()))["event_id"] == "given"
