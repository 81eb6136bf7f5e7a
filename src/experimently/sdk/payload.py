"""The SDK payload: everything a client needs to give the server's answer locally.

Version 2 keeps every field of version 1 (``environment``, ``flags``, ``segments``) and adds
``payload_version`` and ``experiments``: the environment's experiments (variants and weights, traffic,
targeting, layer range and salts, status) and, per experiment, ``assignment``: ``"local"`` when the
deterministic buckets give the server's answer, ``"server"`` when stored (sticky) assignments may differ
from them because the weights changed after the start. ``segments`` then also holds the segments that
experiment targeting uses.

One composed payload per environment is held in memory and dropped whenever the flag ruleset or the
experiments change on any instance (the cache's invalidations, local or from Redis pub/sub); listeners
(the stream) hear about it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from experimently.cache import Cache
from experimently.db import Database
from experimently.experiments.models import Experiment
from experimently.experiments.schemas import Status
from experimently.experiments.service import NAMESPACE as EXPERIMENTS_NAMESPACE
from experimently.flags import repository as flag_repository
from experimently.flags.documents import segment_document
from experimently.flags.evaluation import FlagEvaluation, referenced_segments
from experimently.flags.service import RULESET_NAMESPACE
from experimently.sdk import repository

log = structlog.get_logger(__name__)

PAYLOAD_VERSION = 2
WATCHED = frozenset({RULESET_NAMESPACE, EXPERIMENTS_NAMESPACE})


@dataclass(frozen=True, slots=True)
class SdkPayload:
    environment: str
    etag: str  # quoted, as in the ETag header
    payload: dict[str, Any]

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def experiment_document(exp: Experiment, layer_salt: str | None) -> dict[str, Any]:
    live = exp.status in (Status.RUNNING, Status.PAUSED)
    layer = None
    if exp.layer_key is not None and layer_salt is not None:
        layer = {
            "key": exp.layer_key,
            "salt": layer_salt,
            "range_start": exp.layer_range_start,
            "range_end": exp.layer_range_end,
        }
    return {
        "key": exp.key,
        "status": exp.status,
        "bucket_by": exp.bucket_by,
        "salt": exp.salt,
        "variants": [
            {"key": v["key"], "weight": v["weight"], "payload": v.get("payload")} for v in exp.variants
        ],
        "traffic_allocation": exp.traffic_allocation,
        "targeting": exp.targeting or [],
        "layer": layer,
        "assignment": "server" if live and exp.reweighted_at is not None else "local",
    }


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


class SdkPayloads:
    def __init__(self, db: Database, cache: Cache, flags: FlagEvaluation, *, ttl: float = 30.0) -> None:
        self.db = db
        self.flags = flags
        self.ttl = ttl
        self._memo: dict[str, tuple[float, SdkPayload]] = {}
        self._generation = 0
        self._listeners: list[Callable[[], None]] = []
        cache.on_invalidate(self._on_invalidate)

    def on_change(self, listener: Callable[[], None]) -> None:
        """``listener`` runs (synchronously, on the event loop) after any change that may alter a payload."""
        self._listeners.append(listener)

    def _on_invalidate(self, namespace: str, _key: str | None) -> None:
        if namespace not in WATCHED:
            return
        self._generation += 1
        self._memo.clear()
        for listener in self._listeners:
            listener()

    async def get(self, environment: str) -> SdkPayload:
        hit = self._memo.get(environment)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        generation = self._generation
        built = await self._build(environment)
        if generation == self._generation:  # a change landed meanwhile: do not keep what we read
            self._memo[environment] = (time.monotonic() + self.ttl, built)
        return built

    async def _build(self, environment: str) -> SdkPayload:
        snap = await self.flags.snapshot(environment)
        async with self.db.sessions() as session:
            experiments = await repository.environment_experiments(session, environment)
            salts = await repository.layer_salts(session, {e.layer_key for e in experiments if e.layer_key})
            segments = await _experiment_segments(session, experiments, snap.payload["segments"])
        payload = {
            **snap.payload,
            "segments": segments,
            "payload_version": PAYLOAD_VERSION,
            "experiments": [
                experiment_document(e, salts.get(e.layer_key) if e.layer_key else None) for e in experiments
            ],
        }
        return SdkPayload(environment, f'"{_digest(payload)}"', payload)


async def _experiment_segments(
    session: Any, experiments: Sequence[Experiment], flag_segments: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The flags' segments plus those experiment targeting uses (directly or through other segments)."""
    have = {str(s["key"]) for s in flag_segments}
    documents = [{"rules": [{"conditions": e.targeting}]} for e in experiments if e.targeting]
    if not documents:
        return [dict(s) for s in flag_segments]
    stored = {s.key: s for s in await flag_repository.all_segments(session)}
    used = referenced_segments(documents, {k: s.conditions for k, s in stored.items()})
    extra = [segment_document(stored[k]) for k in sorted(used - have)]
    return [*(dict(s) for s in flag_segments), *extra]
