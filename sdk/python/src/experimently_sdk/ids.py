"""Event ids: a UUIDv7 (RFC 9562) as 32 hex digits, the Unix time in milliseconds (48 bits) then 74
random bits. Ids made close in time sort close together, so the server's key index takes them at its
right edge rather than at a random page each. The client makes them for the events it sends, the
server for events sent without one (one generator for both).

Exposures have deterministic ids instead (:func:`exposure_id`), the same from the server and from
every SDK, so an exposure is stored once whoever sends it."""

from __future__ import annotations

import hashlib
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


EVENT_ID_MAX = 128  # the server's limit on an event id, in characters (code points)


def exposure_id(experiment_key: str, unit: str) -> str:
    """The id of the exposure of ``unit`` to an experiment: ``exposure:{key}:{unit}`` while that fits
    in :data:`EVENT_ID_MAX` characters, else ``exposure:`` and the first 48 hex digits of the SHA-256
    of the key and the unit joined by U+001F (UTF-8). The long form has one colon and the readable
    form two or more, so the two never meet."""
    readable = f"exposure:{experiment_key}:{unit}"
    if len(readable) <= EVENT_ID_MAX:
        return readable
    digest = hashlib.sha256(f"{experiment_key}\x1f{unit}".encode()).hexdigest()
    return f"exposure:{digest[:48]}"
