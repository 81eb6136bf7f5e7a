"""API keys: created (shown once), listed by prefix, revoked; stored as a SHA-256 hash, scoped and bound
to one environment. Verification is cached in process (and invalidated everywhere on revoke)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit, degraded
from experimently.actor import Actor, ActorKind, Scope
from experimently.auth import repository, security
from experimently.auth.models import ApiKey
from experimently.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from experimently.cache import Cache
from experimently.db import Database
from experimently.degraded import dependency_of
from experimently.environments.service import get_environment_by_key
from experimently.errors import (
    DEPENDENCY_RETRY_AFTER,
    AuthenticationRequired,
    ErrorCode,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from experimently.kit.clock import ensure_utc, now
from experimently.ratelimit import RateLimiter
from experimently.rbac import Permission, require
from experimently.webhooks.announce import announce

log = structlog.get_logger(__name__)

NAMESPACE = "api_key"
LAST_USED_RESOLUTION = 60.0  # last_used_at is flushed once a minute (to the minute, not the request)
ACTORS_MAX = 10_000  # memoised Actors (one per key in use); cleared whole when reached


def _read(key: ApiKey, env_key: str) -> ApiKeyRead:
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=[Scope(s) for s in key.scopes],
        environment=env_key,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _snapshot(key: ApiKey, env_key: str) -> dict[str, Any]:
    """The key as the API reads it (audit's one snapshot style); never the secret, only its prefix."""
    return audit.snapshot(ApiKeyRead, _read(key, env_key))


async def create_key(session: AsyncSession, actor: Actor, body: ApiKeyCreate) -> ApiKeyCreated:
    require(actor, Permission.KEYS_WRITE)
    expires = body.expires_at
    if expires is not None and ensure_utc(expires) <= now():
        # a key that could never authenticate: surely a typo in the date
        raise ValidationFailed(
            "expires_at is in the past: the key could never be used",
            [{"path": "expires_at", "message": "must be later than now"}],
        )
    env = await get_environment_by_key(session, body.environment)
    secret = security.generate_api_key()
    key = ApiKey(
        name=body.name,
        prefix=secret[:12],
        key_hash=security.sha256(secret),
        scopes=sorted({str(s) for s in body.scopes}),
        environment_id=env.id,
        created_by=actor.owner if actor.kind is ActorKind.USER else None,
        created_at=now(),
        expires_at=body.expires_at,
    )
    session.add(key)
    await session.flush()
    audit.record(session, actor, "api_key.created", "api_key", key.id, after=_snapshot(key, env.key))
    announce(
        session,
        "api_key.created",
        actor,
        "api_key",
        key.id,
        after=_snapshot(key, env.key),
        path="/admin/keys",
    )
    return ApiKeyCreated(**_read(key, env.key).model_dump(), key=secret)


async def list_keys(session: AsyncSession, actor: Actor) -> list[ApiKeyRead]:
    require(actor, Permission.KEYS_READ)
    return [_read(key, env_key) for key, env_key in await repository.keys_with_environment(session)]


async def revoke_key(session: AsyncSession, cache: Cache, actor: Actor, key_id: str) -> ApiKeyRead:
    require(actor, Permission.KEYS_WRITE)
    row = await repository.key_with_environment(session, key_id)
    if row is None:
        raise NotFound("api_key", key_id)
    key, env_key = row
    before = _snapshot(key, env_key)
    if key.revoked_at is None:
        key.revoked_at = now()
        audit.record(
            session, actor, "api_key.revoked", "api_key", key.id, before=before, after=_snapshot(key, env_key)
        )
        announce(
            session,
            "api_key.revoked",
            actor,
            "api_key",
            key.id,
            before=before,
            after=_snapshot(key, env_key),
            path="/admin/keys",
        )
    cache.invalidate_on_commit(session, NAMESPACE, key.key_hash)
    return _read(key, env_key)


class ApiKeyAuthenticator:
    """Resolves ``X-API-Key`` to an actor.

    - L1-cached by hash for ``L1_SECONDS``; the database on a miss; a revocation or an owner's
      deactivation invalidates it on every instance.
    - Last known good: every verified key is also remembered (bounded, least recently used out) with the
      time it was read. When the database cannot be reached, a key read less than
      ``grace_seconds`` ago keeps working; one revoked or invalidated before the outage is forgotten
      here, so it does not. An unknown key during an outage is a 503, never a guess.
    - Unknown keys: remembered in a small negative cache of their own (they never evict hot L1
      entries), and each client address may present at most ``unknown_limit`` of them before its
      further look-ups are refused with 429 without a database query.
    - ``last_used_at`` is collected in memory and written by a background task in one statement per
      flush, never on the request path.
    """

    L1_SECONDS = 30.0
    NEGATIVE_SECONDS = 30.0
    NEGATIVE_MAX = 10_000
    KNOWN_MAX = 100_000

    def __init__(
        self,
        db: Database,
        cache: Cache,
        limiter: RateLimiter | None = None,
        *,
        grace_seconds: float = 900.0,
        unknown_limit: str = "30/minute",
        flush_seconds: float = LAST_USED_RESOLUTION,
    ) -> None:
        self.db = db
        self.cache = cache
        self.limiter = limiter
        self.grace_seconds = grace_seconds
        self.unknown_limit = unknown_limit
        self.flush_seconds = flush_seconds
        self._known: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._retry_at = 0.0  # while the database is out, the next background look-up (time.monotonic)
        self._probes: set[asyncio.Task[None]] = set()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        # keys verified before (bounded, least recently verified out), exempt from the unknown-key
        # limit. Kept apart from ``_known`` because an invalidation empties that (a revoked key must not
        # be served from it during an outage) and every change of a user or a key invalidates the whole
        # namespace: the exemption grants only a look-up, so it survives invalidations
        self._verified: OrderedDict[str, None] = OrderedDict()
        self._used: dict[str, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None
        # the Actor built from a cached key record, reused while the cache returns that same record
        # (an identity check: a reloaded or changed key gets a new record, hence a new Actor)
        self._actors: dict[str, tuple[dict[str, Any], Actor]] = {}
        cache.on_invalidate(self._forget)

    def _forget(self, namespace: str, key: str | None) -> None:
        if namespace != NAMESPACE:
            return
        if key is None:
            self._known.clear()
            self._unknown.clear()
            self._actors.clear()
        else:
            self._known.pop(key, None)
            self._unknown.pop(key, None)
            self._actors.pop(key, None)

    async def authenticate(self, secret: str, client_ip: str | None = None) -> Actor:
        digest = security.sha256(secret)
        info = self.cache.peek(NAMESPACE, digest)
        if info is None:
            info = await self._resolve(digest, client_ip)
        if (
            not info.get("id")
            or info["revoked"]
            or not info.get("owner_active", True)
            or (info["expires_at"] is not None and info["expires_at"] <= now().timestamp())
        ):
            raise AuthenticationRequired(
                "API key is invalid, expired or revoked", code=ErrorCode.TOKEN_INVALID
            )
        self._touch(info["id"])
        memo = self._actors.get(digest)
        if memo is not None and memo[0] is info:
            return memo[1]
        actor = Actor(
            kind=ActorKind.API_KEY,
            id=info["id"],
            label=info["label"],
            scopes=frozenset(Scope(s) for s in info["scopes"]),
            environment_id=info["environment_id"],
            environment_key=info["environment_key"],
            owner_id=info["owner_id"],
        )
        if len(self._actors) >= ACTORS_MAX:
            self._actors.clear()
        self._actors[digest] = (info, actor)
        return actor

    async def _resolve(self, digest: str, client_ip: str | None) -> dict[str, Any]:
        moment = time.monotonic()
        refused_until = self._unknown.get(digest)
        if refused_until is not None and refused_until > moment:
            return _UNKNOWN
        ip = client_ip or "unknown"
        known = self._known.get(digest)
        # an address over its unknown-key budget looks up no new key, but a key verified before still
        # gets its periodic re-read: behind a proxy every client shares one address, and one client's
        # typo must not lock everyone else's working key out
        if (
            digest not in self._verified
            and self.limiter is not None
            and not await self.limiter.test(self.unknown_limit, "unknown-key-ip", ip)
        ):
            raise RateLimited(60)
        recent = known is not None and moment - known[0] <= self.grace_seconds
        if known is not None and recent and degraded.is_down(degraded.DATABASE):
            # the database is out: a key seen lately answers at once, and one look-up in the background
            # per retry interval finds out when it is back (no request waits for a server that hangs)
            if moment >= self._retry_at:
                self._retry_at = moment + DEPENDENCY_RETRY_AFTER
                probe = asyncio.create_task(self._probe(digest), name="api-key-probe")
                self._probes.add(probe)
                probe.add_done_callback(self._probes.discard)
            return known[1]
        try:
            info = await self.db.bounded(self._load(digest), "an API key look-up")
        except Exception as exc:
            if dependency_of(exc) is None:
                raise
            degraded.mark_down(degraded.DATABASE, exc)
            self._retry_at = moment + DEPENDENCY_RETRY_AFTER
            if known is None or not recent:
                raise
            return known[1]
        return await self._remember(digest, info, moment, ip)

    async def _probe(self, digest: str) -> None:
        """A background look-up while the database is out: on an answer, the key is fresh again and
        the database is marked up; a failure changes nothing (the next probe comes a retry later)."""
        try:
            info = await self.db.bounded(self._load(digest), "an API key look-up")
        except Exception:
            return
        await self._remember(digest, info, time.monotonic(), None)

    async def _remember(
        self, digest: str, info: dict[str, Any], moment: float, ip: str | None
    ) -> dict[str, Any]:
        """Keep what a look-up found (``ip``: the client that asked, None for a background probe)."""
        if degraded.is_down(degraded.DATABASE):
            degraded.mark_up(degraded.DATABASE)
        if info.get("id") is None:
            self._unknown[digest] = moment + self.NEGATIVE_SECONDS
            while len(self._unknown) > self.NEGATIVE_MAX:
                self._unknown.popitem(last=False)
            if self.limiter is not None and ip is not None:
                await self.limiter.hit_local(self.unknown_limit, "unknown-key-ip", ip)
            return info
        self.cache.put_local(NAMESPACE, digest, info, ttl=self.L1_SECONDS)
        self._known[digest] = (moment, info)
        self._known.move_to_end(digest)
        while len(self._known) > self.KNOWN_MAX:
            self._known.popitem(last=False)
        self._verified[digest] = None
        self._verified.move_to_end(digest)
        while len(self._verified) > self.KNOWN_MAX:
            self._verified.popitem(last=False)
        return info

    async def _load(self, digest: str) -> dict[str, Any]:
        async with self.db.sessions() as session:
            row = await repository.key_for_verification(session, digest)
        if row is None:
            return dict(_UNKNOWN)
        key, env_key, owner_active = row
        expires: datetime | None = key.expires_at
        return {
            "id": key.id,
            "label": f"{key.name} ({key.prefix}...)",
            "scopes": list(key.scopes),
            "environment_id": key.environment_id,
            "environment_key": env_key,
            "owner_id": key.created_by,
            # a key made by a person stops with that person; one whose creator was removed keeps working
            "owner_active": owner_active is not False,
            "revoked": key.revoked_at is not None,
            "expires_at": expires.timestamp() if expires else None,
        }

    def _touch(self, key_id: str) -> None:
        """Remember the use; the background flusher writes it (a dict store on the request path)."""
        self._used[key_id] = now()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="api-key-usage")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush_usage()

    async def flush_usage(self) -> int:
        """Write every remembered ``last_used_at`` (one statement per flush); kept for later on failure."""
        if not self._used:
            return 0
        used, self._used = self._used, {}
        try:
            async with self.db.transaction() as session:
                await repository.mark_keys_used(session, used)
        except Exception as exc:
            for key_id, moment in used.items():
                self._used.setdefault(key_id, moment)
            log.warning("api_keys.usage_flush_failed", keys=len(used), error=repr(exc))
            return 0
        return len(used)

    async def close(self) -> None:
        for probe in list(self._probes):
            probe.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(Exception):
            await self.flush_usage()


_UNKNOWN: dict[str, Any] = {"id": None, "revoked": True, "expires_at": None}
