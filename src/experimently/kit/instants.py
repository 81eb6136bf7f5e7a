"""Instants in request bodies and query parameters: one type for every one of them.

A value without an offset is taken as UTC (the API's documented time zone) and one with an offset is
converted to UTC, so two instants of one request always compare (a naive and an aware value answered
500 "can't compare offset-naive and offset-aware datetimes") and every answer writes them with ``Z``.
An offset that carries the value past year 9999 or before year 1 in UTC is a 422, not an overflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
