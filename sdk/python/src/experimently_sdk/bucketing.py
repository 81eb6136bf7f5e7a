"""Deterministic bucketing: a salted MurmurHash3 into 10,000 buckets.

``bucket(seed, unit) = murmurhash3_x86_32(utf8(f"{seed}:{unit}"), seed=0) % 10000`` (unsigned).
Any language with MurmurHash3 reproduces it. Seeds: rollouts use the flag salt; experiments use
``f"{salt}:traffic"`` for the traffic check and ``f"{salt}:variant"`` for the variant; layers use
``f"layer:{layer_salt}"``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import mmh3

from .values import js_number_text

__all__ = ["BUCKETS", "bucket", "cumulative_boundaries", "pick", "unit_text", "utf8"]

BUCKETS = 10_000

_hash = mmh3.hash


def utf8(text: str) -> bytes | str:
    """What to hash for ``text``: itself when it is ASCII (the hash's own fast path), else its UTF-8
    bytes, with each lone surrogate as U+FFFD, as the TypeScript engine's ``TextEncoder`` writes it.
    mmh3 must never see a lone surrogate in a ``str``: it crashes the interpreter."""
    if text.isascii():
        return text
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates: a pair written as two code points is one character
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode()


def bucket(seed: str, unit: str) -> int:
    """The bucket in ``[0, 10000)`` of ``unit`` under ``seed``."""
    return _hash(utf8(f"{seed}:{unit}"), 0, False) % BUCKETS


def unit_text(value: object) -> str | None:
    """The text a bucketing attribute hashes as; ``None`` when it cannot be bucketed.

    Strings as-is, integers in decimal, integral floats as integers (``42.0`` -> ``"42"``), other
    finite floats as JavaScript writes them, booleans ``"true"``/``"false"``. Null, NaN, infinities,
    lists and objects cannot be bucketed.
    """
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float:
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
        return js_number_text(value)
    return None


def cumulative_boundaries(basis_points: Sequence[int]) -> tuple[int, ...]:
    """Upper bounds (exclusive) of each weighted range: ``[50, 50]`` % -> ``(5000, 10000)``."""
    total = 0
    bounds: list[int] = []
    for points in basis_points:
        total += points
        bounds.append(total)
    return tuple(bounds)


def pick(boundaries: tuple[int, ...], bucket_value: int) -> int:
    """Index of the range holding ``bucket_value`` (zero-weight ranges are never picked)."""
    return bisect_right(boundaries, bucket_value)
