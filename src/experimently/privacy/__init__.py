"""Privacy requests: export and erase everything stored about one user id.

Each domain that stores per-user data registers a :class:`PrivacyProvider` with the runtime's
:class:`PrivacyProviders`; the service runs them all in one transaction and audits the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Exporter = Callable[[AsyncSession, str], Awaitable[list[dict[str, Any]]]]
Eraser = Callable[[AsyncSession, str], Awaitable[int]]


@dataclass(frozen=True)
class PrivacyProvider:
    name: str
    export: Exporter
    erase: Eraser
    # providers run in (order, name) order: one that derives from another's rows runs first
    order: int = 0


class PrivacyProviders:
    """One process's providers (held by the runtime, so two runtimes never share them)."""

    def __init__(self) -> None:
        self._providers: dict[str, PrivacyProvider] = {}

    def register(self, provider: PrivacyProvider) -> None:
        """Add (or replace, by name) a domain's provider."""
        self._providers[provider.name] = provider

    def all(self) -> list[PrivacyProvider]:
        return sorted(self._providers.values(), key=lambda p: (p.order, p.name))


__all__ = ["PrivacyProvider", "PrivacyProviders"]
