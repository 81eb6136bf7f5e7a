"""The ingestion path's JSON work done by orjson gives the standard library's answers: ``properties``
accepted or rejected for the same reason (the fast path against :func:`_properties_exact`, the
standard encoder's check), and wire messages that decode to the same rows."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experimently.events import repository
from experimently.events.validation import EventRow, Rejected, _properties, _properties_exact

LIMIT = 200

# JSON values as a request body can carry them (json.loads accepts NaN and Infinity), plus text with
# NUL, lone surrogates, non-ASCII, control characters, "null" and escaped backslashes, and integers
# beyond 64 bits
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["null", "a\x00b", "\ud800", "é ✓", "\\u0000", "\x1f\n\t", "x" * 60, "𝄞"]),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not _has_exponent(f)),
    TEXT,
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _has_exponent(value: float) -> bool:
    # the one text the two encoders write differently ("1e-05" / "1e-5"): not compared here
    return math.isfinite(value) and "e" in repr(value)


def answer(check: Any, raw: Any) -> tuple[str, str]:
    try:
        check(raw, LIMIT)
    except Rejected as exc:
        return ("rejected", exc.reason)
    return ("accepted", "")


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(TEXT, VALUE, max_size=6))
def test_properties__fast_path__same_answer_as_the_standard_encoder(raw: dict[str, Any]) -> None:
    assert answer(_properties, raw) == answer(_properties_exact, raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"price": float("nan")},
        {"deep": [1, {"x": float("inf")}]},
        {"k": "a\x00b"},
        {"a\x00": 1},
        {"k": "\ud800"},
        {"\udfff": 1},
        {"k": "\\u0000"},
        {"big": 2**64},
        {"k": None},
        {"k": "é" * 40},
        {"k": "x" * (LIMIT - 8)},
        {"k": "x" * (LIMIT - 7)},
        {"k": "\x01" * 10},
    ],
)
def test_properties__edge_cases__same_answer_as_the_standard_encoder(raw: dict[str, Any]) -> None:
    assert answer(_properties, raw) == answer(_properties_exact, raw)


def test_properties__limit__counts_the_compact_json() -> None:
    at_limit = {"k": "x" * (LIMIT - 8)}  # {"k":"..."} is 8 bytes around the text
    assert answer(_properties, at_limit) == ("accepted", "")
    assert answer(_properties, {"k": "x" * (LIMIT - 7)})[0] == "rejected"


ROWS = st.lists(
    st.builds(
        EventRow,
        event_id=st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
        name=st.sampled_from(["purchase", "exposure", "é ✓"]),
        user_id=st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
        environment=st.sampled_from([None, "production"]),
        experiment_key=st.sampled_from([None, "checkout"]),
        variant=st.sampled_from([None, "b"]),
        value=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        properties=st.dictionaries(
            st.text(max_size=5),
            st.one_of(
                st.integers(min_value=-(2**70), max_value=2**70),
                st.text(max_size=5),
                st.floats(allow_nan=False, allow_infinity=False),
            ),
            max_size=3,
        ),
        ts_us=st.integers(min_value=0, max_value=2**53),
        received_us=st.integers(min_value=0, max_value=2**53),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_encode_rows__decodes_to_what_the_standard_encoder_writes(rows: list[EventRow]) -> None:
    standard = json.JSONEncoder(separators=(",", ":")).encode(rows)
    assert json.loads(repository.encode_rows(rows)) == json.loads(standard)
