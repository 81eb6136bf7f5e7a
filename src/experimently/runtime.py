"""The process's shared resources, built once by the app lifespan or the worker.

The domain services are typed attributes set by ``experimently.wiring.register_services``; the
registries other domains contribute to (privacy providers, "used by" look-ups) live here too, so two
runtimes in one process (as in the cross-instance tests) never share or overwrite each other's."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from experimently.auth.keys import ApiKeyAuthenticator
from experimently.auth.oidc import OidcVerifier
from experimently.cache import Cache
from experimently.config import Settings
from experimently.db import Database
from experimently.encryption.keyring import KeyRing, keyring_of
from experimently.encryption.registry import Walker

if TYPE_CHECKING:  # redis is imported only when a Redis URL is configured (start-up time)
    from redis.asyncio import Redis
from experimently.events.ingest import EventIngest
from experimently.events.pipeline import Pipeline
from experimently.experiments.assign import AssignmentService
from experimently.flags.evaluation import FlagEvaluation
from experimently.flags.handoff import ExperimentHandoff
from experimently.jobs.runner import JobRunner
from experimently.kit.references import ReferenceLookups
from experimently.metrics.aggregation import AfterAggregation, SpecProvider
from experimently.privacy import PrivacyProviders
from experimently.ratelimit import RateLimiter
from experimently.sdk.payload import SdkPayloads
from experimently.sdk.stream import SdkStream


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
    # domain services (set by experimently.wiring.register_services before the first request or job)
    flags: FlagEvaluation = field(init=False)
    assignments: AssignmentService = field(init=False)
    pipeline: Pipeline = field(init=False)
    ingest: EventIngest = field(init=False)
    # flags that serve an experiment hand their decision to it (None: flags evaluate alone)
    experiment_handoff: ExperimentHandoff | None = field(init=False, default=None)
    # what the aggregation job aggregates (None: nothing registered, the job does nothing)
    aggregation_specs: SpecProvider | None = field(init=False, default=None)
    # what runs right after each aggregation run, on the keys it moved (the guardrail checks)
    after_aggregation: AfterAggregation | None = field(init=False, default=None)
    # webhook deliveries go through this transport (tests replace the outside world here)
    webhook_transport: httpx.AsyncBaseTransport | None = field(init=False, default=None)
    # the SDK payload builder and the stream hub of this instance
    sdk_payloads: SdkPayloads = field(init=False)
    sdk_stream: SdkStream = field(init=False)
    # registries the domains contribute to
    privacy: PrivacyProviders = field(init=False, default_factory=PrivacyProviders)
    segment_users: ReferenceLookups = field(init=False, default_factory=ReferenceLookups)
    metric_users: ReferenceLookups = field(init=False, default_factory=ReferenceLookups)
    # where each metric is used, with its role (GET /metrics/{key}/usage)
    metric_usage: ReferenceLookups = field(init=False, default_factory=ReferenceLookups)
    # re-encryption walks of encrypted values a domain keeps inside JSON (events' PII properties)
    reencrypt_walkers: dict[str, Walker] = field(init=False, default_factory=dict)

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
    redis: Redis | None = None
    if settings.redis_url:
        # only with Redis configured: redis is ~9% of the import time otherwise
        from experimently.kit.redis_retry import SOCKET_TIMEOUT, guarded_client, quick_retry

        # connect and read time-outs and the circuit: a Redis that does not answer must not hold
        # requests (pub/sub's blocking reads are exempt in redis-py: they wait for messages without a
        # time-out)
        redis = guarded_client(
            settings.redis_url,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=SOCKET_TIMEOUT,
            retry=quick_retry(),
        )
    cache = Cache(redis)
    if redis is None:  # other processes on the database (the CLI, a second server) tell us through it
        cache.use_marks(db)
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
