"""API keys: created (shown once), listed by prefix, revoked; stored as a SHA-256 hash, scoped and bound
to one environment. Verification is cached in process (and invalidated everywhere on revoke)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor, ActorKind, Scope
from experimently.auth import security
from experimently.auth.models import ApiKey
from experimently.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from experimently.cache import Cache
from experimently.db import Database
from experimently.environments.models import Environment
from experimently.environments.service import get_environment_by_key
from experimently.errors import AuthenticationRequired, ErrorCode, NotFound
from experimently.kit.clock import now
from experimently.rbac import Permission, require

NAMESPACE = "api_key"
LAST_USED_RESOLUTION = 60.0  # write last_used_at at most once a minute per key


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


def _snapshot(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "environment_id": key.environment_id,
        "revoked_at": key.revoked_at,
    }


async def create_key(session: AsyncSession, actor: Actor, body: ApiKeyCreate) -> ApiKeyCreated:
    require(actor, Permission.KEYS_WRITE)
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
    audit.record(session, actor, "api_key.created", "api_key", key.id, after=_snapshot(key))
    return ApiKeyCreated(**_read(key, env.key).model_dump(), key=secret)


async def list_keys(session: AsyncSession, actor: Actor) -> list[ApiKeyRead]:
    require(actor, Permission.KEYS_READ)
    rows = await session.execute(
        select(ApiKey, Environment.key)
        .join(Environment, Environment.id == ApiKey.environment_id)
        .order_by(ApiKey.created_at)
    )
    return [_read(key, env_key) for key, env_key in rows.all()]


async def revoke_key(session: AsyncSession, cache: Cache, actor: Actor, key_id: str) -> ApiKeyRead:
    require(actor, Permission.KEYS_WRITE)
    row = (
        await session.execute(
            select(ApiKey, Environment.key)
            .join(Environment, Environment.id == ApiKey.environment_id)
            .where(ApiKey.id == key_id)
        )
    ).first()
    if row is None:
        raise NotFound("api_key", key_id)
    key, env_key = row
    before = _snapshot(key)
    if key.revoked_at is None:
        key.revoked_at = now()
        audit.record(
            session, actor, "api_key.revoked", "api_key", key.id, before=before, after=_snapshot(key)
        )
    cache.invalidate_on_commit(session, NAMESPACE, key.key_hash)
    return _read(key, env_key)


class ApiKeyAuthenticator:
    """Resolves ``X-API-Key`` to an actor: L1-cached by hash, DB on a miss, last-used written behind."""

    def __init__(self, db: Database, cache: Cache) -> None:
        self.db = db
        self.cache = cache
        self._last_written: dict[str, float] = {}

    async def authenticate(self, secret: str) -> Actor:
        digest = security.sha256(secret)
        info = self.cache.peek(NAMESPACE, digest)
        if info is None:
            info = await self._load(digest)
            self.cache.put_local(NAMESPACE, digest, info, ttl=30.0)
        if (
            not info.get("id")
            or info["revoked"]
            or (info["expires_at"] is not None and info["expires_at"] <= now().timestamp())
        ):
            raise AuthenticationRequired(
                "API key is invalid, expired or revoked", code=ErrorCode.TOKEN_INVALID
            )
        await self._touch(info["id"])
        return Actor(
            kind=ActorKind.API_KEY,
            id=info["id"],
            label=info["label"],
            scopes=frozenset(Scope(s) for s in info["scopes"]),
            environment_id=info["environment_id"],
            environment_key=info["environment_key"],
            owner_id=info["owner_id"],
        )

    async def _load(self, digest: str) -> dict[str, Any]:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey, Environment.key)
                    .join(Environment, Environment.id == ApiKey.environment_id)
                    .where(ApiKey.key_hash == digest)
                )
            ).first()
        if row is None:
            return {"id": None, "revoked": True, "expires_at": None}
        key, env_key = row
        expires: datetime | None = key.expires_at
        return {
            "id": key.id,
            "label": f"{key.name} ({key.prefix}...)",
            "scopes": list(key.scopes),
            "environment_id": key.environment_id,
            "environment_key": env_key,
            "owner_id": key.created_by,
            "revoked": key.revoked_at is not None,
            "expires_at": expires.timestamp() if expires else None,
        }

    async def _touch(self, key_id: str) -> None:
        moment = time.monotonic()
        if moment - self._last_written.get(key_id, -LAST_USED_RESOLUTION) < LAST_USED_RESOLUTION:
            return
        self._last_written[key_id] = moment
        async with self.db.transaction() as session:
            await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now()))
