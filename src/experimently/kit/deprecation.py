"""Deprecation of an operation, announced where clients and tools look: the ``Deprecation`` header
(RFC 9745, the moment it was deprecated as ``@<unix seconds>``), the ``Sunset`` header (RFC 8594, the
HTTP date after which it may be removed), a ``Link`` to its successor, and in OpenAPI
(``deprecated: true`` plus ``x-deprecated-since``, ``x-sunset`` and ``x-successor``).

Usage, on the route decorator::

    @router.get("/old", **deprecated(since=date(2026, 12, 1), sunset=date(2027, 12, 1)))

The policy (docs/api.md): an operation of ``/api/v1`` is removed no sooner than twelve months after
it was deprecated."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Response

MIN_SUNSET_DAYS = 365


def deprecation_headers(since: date, sunset: date, successor: str | None = None) -> dict[str, str]:
    since_at = datetime.combine(since, time(), UTC)
    sunset_at = datetime.combine(sunset, time(), UTC)
    headers = {
        "Deprecation": f"@{int(since_at.timestamp())}",
        "Sunset": format_datetime(sunset_at, usegmt=True),
    }
    if successor:
        headers["Link"] = f'<{successor}>; rel="successor-version"'
    return headers


def deprecated(*, since: date, sunset: date, successor: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``@router.<method>(...)`` that deprecate the operation."""
    if (sunset - since).days < MIN_SUNSET_DAYS:
        raise ValueError(f"sunset must be at least {MIN_SUNSET_DAYS} days after deprecation (docs/api.md)")
    headers = deprecation_headers(since, sunset, successor)

    async def announce(response: Response) -> None:
        response.headers.update(headers)

    described = {
        name: {"schema": {"type": "string"}, "description": f"e.g. {value}"}
        for name, value in headers.items()
    }
    return {
        "deprecated": True,
        "dependencies": [Depends(announce)],
        "openapi_extra": {
            "x-deprecated-since": since.isoformat(),
            "x-sunset": sunset.isoformat(),
            **({"x-successor": successor} if successor else {}),
        },
        "responses": {200: {"headers": described}},
    }
