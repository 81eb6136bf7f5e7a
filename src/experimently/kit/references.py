"""Who uses a resource: other domains register look-ups, so a domain can refuse to delete something that
is still referenced without importing the domains that reference it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Lookup = Callable[[AsyncSession, str], Awaitable[list[dict[str, str]]]]


class ReferenceLookups:
    def __init__(self) -> None:
        self._lookups: list[Lookup] = []

    def register(self, lookup: Lookup) -> None:
        if lookup not in self._lookups:
            self._lookups.append(lookup)

    async def find(self, session: AsyncSession, key: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        for lookup in self._lookups:
            found.extend(await lookup(session, key))
        return found


SEGMENT_OPERATORS = ("in_segment", "not_in_segment")


def segment_keys(conditions: Iterable[Any] | None) -> set[str]:
    """The segment keys a list of stored conditions references (through ``in_segment`` and
    ``not_in_segment``): the one answer to "which segments do these conditions use"."""
    return {
        str(value)
        for c in conditions or []
        if isinstance(c, Mapping) and c.get("operator") in SEGMENT_OPERATORS
        for value in c.get("values") or []
    }
