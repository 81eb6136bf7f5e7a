"""``AsyncClient``: the same API for asyncio applications.

Evaluation (``is_enabled``, ``variation``, ``variation_detail``, ``all_flags``, ``get_variant``) and
``track`` are plain methods: they do no I/O, so they are safe on the event loop. Waiting for the first
ruleset, ``flush`` and ``close`` are coroutines. Updates and events run on the same background threads
as :class:`Client`, so nothing of the SDK ever runs on (or blocks) the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .client import Client, EvaluationDetail, Listener, checked_number


class AsyncClient:
    def __init__(self, sdk_key: str, base_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        # checked here: the constructor below does not wait (init_timeout=0), the coroutines do
        self.init_timeout = checked_number("init_timeout", options.pop("init_timeout", 5.0))
        self._client = Client(sdk_key, base_url, init_timeout=0, **options)

    @property
    def sync(self) -> Client:
        """The underlying thread-based client."""
        return self._client

    @property
    def initialized(self) -> bool:
        return self._client.initialized

    @property
    def version(self) -> str | None:
        return self._client.version

    @property
    def dropped_events(self) -> int:
        return self._client.dropped_events

    async def wait_for_initialization(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (the sync API's name)
        """Wait (without blocking the loop) for the first ruleset, at most ``init_timeout`` seconds."""
        wait = self.init_timeout if timeout is None else timeout
        return await asyncio.to_thread(self._client.wait_for_initialization, wait)

    def on_change(self, listener: Listener) -> None:
        self._client.on_change(listener)

    def is_enabled(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: bool = False,
    ) -> bool:
        return self._client.is_enabled(flag_key, user_id, attributes, default)

    def variation(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Any:
        return self._client.variation(flag_key, user_id, attributes, default)

    def variation_detail(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> EvaluationDetail:
        return self._client.variation_detail(flag_key, user_id, attributes, default)

    def all_flags(
        self, user_id: str | int | None = None, attributes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._client.all_flags(user_id, attributes)

    def get_variant(
        self, experiment_key: str, unit_id: str | int, attributes: Mapping[str, Any] | None = None
    ) -> str | None:
        return self._client.get_variant(experiment_key, unit_id, attributes)

    def track(
        self,
        name: str,
        user_id: str | int,
        value: float | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        self._client.track(name, user_id, value, properties)

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (the sync API's name)
        return await asyncio.to_thread(self._client.flush, timeout)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    async def __aenter__(self) -> AsyncClient:
        await self.wait_for_initialization()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
