"""Three-level cache: L1 in process, L2 Redis, L3 the database (the caller's loader).

A change calls :meth:`Cache.invalidate`: the local L1 entry goes at once, the L2 entry is deleted and
an invalidation is published on Redis pub/sub so every other instance drops its L1 copy (well under a
second). Without Redis, every invalidation also counts up its namespace's row in ``cache_marks`` (in
the database every process shares), and a running server reads those counts every
:data:`MARKS_POLL_SECONDS`: a change made by another process (the CLI's kill switch, an import, a
second server on the same database file) is seen within about a second, not when L1 entries expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter
from sqlalchemy import BigInteger, String, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from experimently import degraded
from experimently.db import Base, Database, after_commit
from experimently.kit.ids import new_id
from experimently.kit.metrics import incrementer

if TYPE_CHECKING:  # imported only when Redis is configured (start-up time)
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

CHANNEL = "experimently:invalidate"
MARKS_POLL_SECONDS = 1.0  # without Redis: how often a server reads the other processes' invalidations


class CacheMark(Base):
    """Without Redis: how many times each namespace was invalidated, by any process on the database."""

    __tablename__ = "cache_marks"

    namespace: Mapped[str] = mapped_column(String(100), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


CACHE_REQUESTS = Counter(
    "experimently_cache_requests_total",
    "Cache look-ups by namespace, level and result",
    ["namespace", "level", "result"],
)


@functools.cache
def _l1_hits(namespace: str) -> Any:
    """The labelled child's increment, kept: ``labels()`` takes a lock and checks its arguments on
    every call, a cost the hot path pays several times per request otherwise (``kit.metrics``)."""
    return incrementer(CACHE_REQUESTS.labels(namespace, "l1", "hit"))


Loader = Callable[[], Awaitable[Any]]
Listener = Callable[[str, str | None], None]


class Cache:
    def __init__(
        self, redis: Redis | None, *, l1_ttl: float = 60.0, l2_ttl: int = 3600, max_entries: int = 20_000
    ) -> None:
        self.redis = redis
        self.instance_id = new_id()
        self.l1_ttl = l1_ttl
        self.max_entries = max_entries
        self.l2_ttl = l2_ttl
        self._l1: dict[tuple[str, str], tuple[float, Any]] = {}
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._generation: dict[str, int] = {}  # bumped by every local drop of a namespace
        # without Redis: the database's invalidation counts, and the counts last seen there
        self._marks: Database | None = None
        self._marks_seen: dict[str, int] | None = None
        self._marks_task: asyncio.Task[None] | None = None

    def use_marks(self, db: Database) -> None:
        """Without Redis: count invalidations in ``cache_marks`` (and, once started, follow them)."""
        self._marks = db

    def peek(self, namespace: str, key: str) -> Any | None:
        """L1 only, synchronous: the hot path of evaluation."""
        hit = self._l1.get((namespace, key))
        if hit is not None and hit[0] > time.monotonic():
            _l1_hits(namespace)(1)
            return hit[1]
        return None

    def put_local(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        moment = time.monotonic()
        self._l1[(namespace, key)] = (moment + (ttl or self.l1_ttl), value)
        if len(self._l1) > self.max_entries:  # bounded: expired entries first, then the oldest
            for entry in [k for k, (expires, _) in self._l1.items() if expires <= moment]:
                del self._l1[entry]
            while len(self._l1) > self.max_entries * 0.9:
                del self._l1[next(iter(self._l1))]

    async def get_or_load(
        self, namespace: str, key: str, loader: Loader, *, decode: Callable[[Any], Any] | None = None
    ) -> Any:
        """L1, then L2 (JSON), then ``loader`` (L3); fills the levels it missed."""
        value = self.peek(namespace, key)
        if value is not None:
            return value
        CACHE_REQUESTS.labels(namespace, "l1", "miss").inc()
        local_generation = self._generation.get(namespace, 0)
        remote_generation = await self._remote_generation(namespace)
        raw = await self._l2_get(namespace, key, remote_generation)
        if raw is not None:
            CACHE_REQUESTS.labels(namespace, "l2", "hit").inc()
            value = decode(raw) if decode else raw
        else:
            if self.redis is not None:
                CACHE_REQUESTS.labels(namespace, "l2", "miss").inc()
            loaded = await loader()
            # written under the generation read BEFORE loading: if an invalidation happened meanwhile,
            # the entry lands under a stale name nobody reads, so old data can never outlive a change
            await self._l2_set(namespace, key, loaded, remote_generation)
            value = decode(loaded) if decode else loaded
        if self._generation.get(namespace, 0) == local_generation:
            self.put_local(namespace, key, value)
        return value

    def invalidate_on_commit(self, session: AsyncSession, namespace: str, key: str | None = None) -> None:
        """Invalidate once the caller's transaction commits (so nobody reloads the old state)."""
        after_commit(session, lambda: self.invalidate(namespace, key))

    async def invalidate(self, namespace: str, key: str | None = None) -> None:
        """Drop ``key`` (or the whole namespace) here, in Redis, and on every other instance."""
        self.drop_local(namespace, key)
        if self.redis is None:
            if self._marks is not None:
                await self._mark(self._marks, namespace)
            return
        try:
            await self._announce(namespace, key)
        except Exception as exc:  # Redis down: local invalidation done, L1 TTL bounds staleness
            log.warning("cache.invalidate_failed", namespace=namespace, error=repr(exc))

    async def invalidate_everything(self) -> list[str]:
        """Drop every namespace Redis holds entries or generations of, in Redis and on every instance
        (as :meth:`invalidate` of each); the namespaces, sorted. After a database restore the cached
        copies describe a state the database no longer has. Redis errors propagate."""
        if self.redis is None:
            return []
        namespaces: set[str] = set()
        for pattern in ("cachegen:*", "cache:*"):
            async for raw in self.redis.scan_iter(match=pattern, count=1000):
                namespaces.add(raw.decode().split(":")[1])
        for namespace in sorted(namespaces):
            self.drop_local(namespace, None)
            await self._announce(namespace, None)
        return sorted(namespaces)

    async def _announce(self, namespace: str, key: str | None) -> None:
        """Make every L2 entry of the namespace stale and tell the other instances to drop ``key``."""
        assert self.redis is not None
        await self.redis.incr(f"cachegen:{namespace}")
        message = json.dumps({"ns": namespace, "key": key, "from": self.instance_id})
        await self.redis.publish(CHANNEL, message)

    def drop_local(self, namespace: str, key: str | None) -> None:
        self._generation[namespace] = self._generation.get(namespace, 0) + 1
        if key is None:
            for entry in [k for k in self._l1 if k[0] == namespace]:
                self._l1.pop(entry, None)
        else:
            self._l1.pop((namespace, key), None)
        for listener in self._listeners:
            listener(namespace, key)

    def on_invalidate(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def _remote_generation(self, namespace: str) -> int | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(f"cachegen:{namespace}")
        except Exception as exc:
            degraded.mark_down(degraded.REDIS, exc)
            return None
        return int(raw or 0)

    async def _l2_get(self, namespace: str, key: str, generation: int | None) -> Any | None:
        if self.redis is None or generation is None:
            return None
        try:
            raw = await self.redis.get(f"cache:{namespace}:{generation}:{key}")
        except Exception as exc:
            log.warning("cache.l2_unavailable", error=repr(exc))
            return None
        return json.loads(raw) if raw is not None else None

    async def _l2_set(self, namespace: str, key: str, value: Any, generation: int | None) -> None:
        if self.redis is None or generation is None:
            return
        with contextlib.suppress(Exception):
            await self.redis.set(f"cache:{namespace}:{generation}:{key}", json.dumps(value), ex=self.l2_ttl)

    async def _mark(self, db: Database, namespace: str) -> None:
        """Count an invalidation of ``namespace`` in the database, for the other processes."""
        insert: Any = sqlite_insert
        if db.dialect == "postgresql":  # imported when used: the embedded shape never loads it
            from sqlalchemy.dialects.postgresql import insert
        statement = (
            insert(CacheMark)
            .values(namespace=namespace, generation=1)
            .on_conflict_do_update(
                index_elements=[CacheMark.namespace], set_={"generation": CacheMark.generation + 1}
            )
            .returning(CacheMark.generation)
        )
        try:
            async with db.transaction() as session:
                generation = int((await session.execute(statement)).scalar_one())
        except Exception as exc:  # the database is out: this process is invalidated, others wait for L1
            log.warning("cache.mark_failed", namespace=namespace, error=repr(exc))
            return
        seen = self._marks_seen
        if seen is not None and generation == seen.get(namespace, 0) + 1:
            seen[namespace] = generation  # our own: nothing for the poller to drop again

    async def _follow_marks(self, db: Database) -> None:
        """Read the invalidation counts every :data:`MARKS_POLL_SECONDS`; drop the namespaces another
        process invalidated since the last read."""
        while True:
            try:
                async with db.sessions() as session:
                    rows = (await session.execute(select(CacheMark.namespace, CacheMark.generation))).all()
            except Exception as exc:
                log.debug("cache.marks_unreadable", error=repr(exc))
            else:
                counts = {str(namespace): int(generation) for namespace, generation in rows}
                if self._marks_seen is not None:
                    for namespace, generation in counts.items():
                        if self._marks_seen.get(namespace, 0) != generation:
                            self.drop_local(namespace, None)
                self._marks_seen = counts
            await asyncio.sleep(MARKS_POLL_SECONDS)

    async def start(self) -> None:
        """Subscribe to invalidations from other instances (without Redis: follow the marks)."""
        if self.redis is None:
            if self._marks is not None and self._marks_task is None:
                self._marks_task = asyncio.create_task(self._follow_marks(self._marks), name="cache-marks")
            return
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(), name="cache-invalidation")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def _listen(self) -> None:
        assert self.redis is not None
        connected = True
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                if not connected:  # back: invalidations sent meanwhile were missed, start afresh
                    connected = True
                    self._l1.clear()
                    degraded.mark_up(degraded.REDIS)
                self._ready.set()
                async for message in pubsub.listen():
                    self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if connected:  # once per outage: L1 keeps serving (its TTL bounds staleness)
                    connected = False
                    log.warning("cache.subscriber_error", error=repr(exc))
                    degraded.mark_down(degraded.REDIS, exc)
                    self._l1.clear()  # we may have missed invalidations
                await asyncio.sleep(1)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data = json.loads(message["data"])
        if data.get("from") != self.instance_id:
            self.drop_local(str(data["ns"]), data.get("key"))

    async def stop(self) -> None:
        for task in (self._task, self._marks_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._marks_task = None
