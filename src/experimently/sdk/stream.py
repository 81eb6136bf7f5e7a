"""Server-Sent Events for SDK clients: the current payload on connect, then every change.

Each ``put`` event carries the whole payload and its version (the ETag without quotes) as the event id,
so a client never needs to detect a gap: the latest event is complete on its own. A reconnecting client
sends ``Last-Event-ID``; when that is still the current version it gets a ``ready`` event instead of the
payload again.

Fan-out is in process: every connection of an environment waits on that environment's latest payload.
Changes reach this instance through the cache's invalidations, which come from this instance or, with
Redis, from any instance over pub/sub; the stream does not talk to Redis itself, so a Redis outage
leaves connected clients connected. A periodic resync (``sdk_stream_resync_seconds``) rebuilds the
payload (bypassing its memo), which catches what an outage made this instance miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import anyio
import structlog
from prometheus_client import Gauge

from experimently.errors import RateLimited
from experimently.sdk.payload import SdkPayload, SdkPayloads

log = structlog.get_logger(__name__)

CONNECTIONS = Gauge("experimently_sdk_stream_connections", "Open SDK stream connections")


class _Channel:
    """The latest payload of one environment and an event that fires when it changes."""

    def __init__(self, current: SdkPayload) -> None:
        self.current = current
        self.changed = asyncio.Event()
        self.subscribers = 0

    def publish(self, payload: SdkPayload) -> None:
        self.current = payload
        self.changed.set()
        self.changed = asyncio.Event()  # waiters hold the old event, which is now set


class SdkStream:
    """The open streams of this process. A stream stays open only while its key is valid: it is checked
    again whenever API keys are invalidated (a revocation, an owner's deactivation: on every instance
    within a second) and every ``recheck_seconds`` (an expiry), and the stream ends once it is not."""

    def __init__(
        self,
        payloads: SdkPayloads,
        *,
        max_per_key: int,
        resync_seconds: float,
        recheck_seconds: float = 30.0,
    ) -> None:
        self.payloads = payloads
        self.max_per_key = max_per_key
        self.resync_seconds = resync_seconds
        self.recheck_seconds = recheck_seconds
        self._keys_changed = asyncio.Event()
        self._channels: dict[str, _Channel] = {}
        self._per_key: Counter[str] = Counter()
        self._refresh: asyncio.Task[None] | None = None
        self._pending = False
        self._resync: asyncio.Task[None] | None = None
        payloads.on_change(self._on_change)

    def start(self) -> None:
        if self._resync is None:
            self._resync = asyncio.create_task(self._resync_loop(), name="sdk-stream-resync")

    async def stop(self) -> None:
        for task in (self._resync, self._refresh):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._resync = self._refresh = None

    def keys_changed(self) -> None:
        """API keys were invalidated: every open stream checks its key again."""
        self._keys_changed.set()
        self._keys_changed = asyncio.Event()  # waiters hold the old event, which is now set

    def _on_change(self) -> None:
        self._pending = True
        if self._refresh is None or self._refresh.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nobody is connected either
                self._refresh = asyncio.get_running_loop().create_task(self._refresh_all())

    async def _refresh_all(self) -> None:
        while self._pending:  # changes that land while we read are picked up by another round
            self._pending = False
            for environment in list(self._channels):
                await self._refresh_one(environment)

    async def _refresh_one(self, environment: str, *, fresh: bool = False) -> None:
        channel = self._channels.get(environment)
        if channel is None:
            return
        try:
            latest = await self.payloads.get(environment, fresh=fresh)
        except Exception as exc:  # the database is down: connected clients keep what they have
            log.warning("sdk.stream_refresh_failed", environment=environment, error=repr(exc))
            return
        if latest.etag != channel.current.etag:
            channel.publish(latest)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for environment in list(self._channels):
                await self._refresh_one(environment, fresh=True)

    async def open(self, key_id: str, environment: str) -> _Channel:
        """Reserve a connection for ``key_id`` (429 beyond the bound) and join the channel."""
        if self._per_key[key_id] >= self.max_per_key:
            raise RateLimited(5)
        channel = self._channels.get(environment)
        if channel is None:
            channel = _Channel(await self.payloads.get(environment))
            channel = self._channels.setdefault(environment, channel)
        channel.subscribers += 1
        self._per_key[key_id] += 1
        CONNECTIONS.inc()
        return channel

    def close(self, key_id: str, environment: str) -> None:
        self._per_key[key_id] -= 1
        if self._per_key[key_id] <= 0:
            del self._per_key[key_id]
        CONNECTIONS.dec()
        channel = self._channels.get(environment)
        if channel is not None:
            channel.subscribers -= 1
            if channel.subscribers <= 0:
                del self._channels[environment]

    async def events(
        self,
        key_id: str,
        environment: str,
        channel: _Channel,
        last_event_id: str | None,
        shutdown: anyio.Event | None = None,
        key_valid: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of one connection; releases the reservation when the client goes, and ends
        when ``shutdown`` is set (the server stops: the response then completes cleanly) or when
        ``key_valid`` answers false (the key was revoked, expired or its owner deactivated: the
        client's reconnection is then refused with 401)."""
        try:
            sent = channel.current
            if last_event_id is not None and last_event_id == sent.version:
                yield {"event": "ready", "id": sent.version, "data": json.dumps({"version": sent.version})}
            else:
                yield _put(sent)
            while shutdown is None or not shutdown.is_set():
                waiter = channel.changed
                if channel.current.etag == sent.etag:
                    waits = [waiter.wait(), self._keys_changed.wait(), asyncio.sleep(self.recheck_seconds)]
                    if shutdown is not None:
                        waits.append(shutdown.wait())
                    await _first(*waits)
                    if shutdown is not None and shutdown.is_set():
                        return
                if key_valid is not None and not await key_valid():
                    log.info("sdk.stream_key_invalid", api_key_id=key_id, environment=environment)
                    return
                if channel.current.etag != sent.etag:
                    sent = channel.current
                    yield _put(sent)
        finally:
            self.close(key_id, environment)


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of ``waits`` finishes; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _put(payload: SdkPayload) -> dict[str, Any]:
    body = {"version": payload.version, "payload": payload.payload}
    return {"event": "put", "id": payload.version, "data": json.dumps(body, default=str)}
