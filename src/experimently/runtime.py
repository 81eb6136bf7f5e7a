"""The process's shared resources, built once by the app lifespan or the worker."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from experimently.auth.keys import ApiKeyAuthenticator
from experimently.auth.oidc import OidcVerifier
from experimently.cache import Cache
from experimently.config import Settings
from experimently.db import Database
from experimently.encryption.keyring import KeyRing, keyring_of
from experimently.jobs.runner import JobRunner
from experimently.ratelimit import RateLimiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis | None
    cache: Cache
    limiter: RateLimiter
    api_keys: ApiKeyAuthenticator
    oidc: OidcVerifier | None
    jobs: JobRunner
    keyring: KeyRing
    services: dict[str, Any] = field(default_factory=dict)

    async def redis_ok(self) -> bool | None:
        if self.redis is None:
            return None
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.jobs.stop()
        await self.api_keys.close()
        await self.cache.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings)
    redis = (  # a connect time-out: a Redis that does not answer must not hold requests for minutes
        Redis.from_url(settings.redis_url, decode_responses=False, socket_connect_timeout=2)
        if settings.redis_url
        else None
    )
    cache = Cache(redis)
    limiter = RateLimiter(settings.redis_url)
    return Runtime(
        settings=settings,
        db=db,
        redis=redis,
        cache=cache,
        limiter=limiter,
        api_keys=ApiKeyAuthenticator(
            db,
            cache,
            limiter,
            grace_seconds=settings.api_key_grace_seconds,
            unknown_limit=settings.unknown_api_key_rate_limit,
        ),
        oidc=OidcVerifier(settings) if settings.oidc_issuer else None,
        jobs=JobRunner(db),
        keyring=keyring_of(settings),
    )
