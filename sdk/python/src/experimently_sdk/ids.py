"""Event ids: a UUIDv7 (RFC 9562) as 32 hex digits, the Unix time in milliseconds (48 bits) then 74
random bits. Ids made close in time sort close together, so the server's key index takes them at its
right edge rather than at a random page each. The client makes them for the events it sends, the
server for events sent without one (one generator for both)."""

from __future__ import annotations

import os
import time

_MS_MASK = (1 << 48) - 1
_VERSION_7 = 0x7 << 76  # RFC 9562: bits 48-51 of the UUID
_VARIANT = 0b10 << 62  # RFC 9562: bits 64-65


def time_ordered_id(unix_seconds: float | None = None) -> str:
    """A new event id for ``unix_seconds`` (default: now)."""
    ms = int((time.time() if unix_seconds is None else unix_seconds) * 1000) & _MS_MASK
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: 12 for rand_a, 62 for rand_b
    return f"{ms << 80 | _VERSION_7 | (rand >> 68) << 64 | _VARIANT | rand & ((1 << 62) - 1):032x}"
