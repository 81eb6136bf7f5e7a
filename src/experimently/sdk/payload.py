"""The SDK payload: everything a client needs to give the server's answer locally.

Version 2 keeps every field of version 1 (``environment``, ``flags``, ``segments``) and adds
``payload_version`` and ``experiments``: the environment's experiments (variants and weights, traffic,
targeting, layer range and salts, status). ``segments`` then also holds the segments that experiment
targeting uses. ``guarded_rollouts`` maps each flag whose guarded rollout is being compared to its step
marker (``<rollout id>.<step>``): the flags whose exposures the server records, and so the only ones a
client sends ``flag_exposure`` events for. It is a top-level map rather than a field of each flag
document because SDKs refuse flag documents with unknown fields (deployed clients would then drop
the flag).

Stickiness: the server returns a unit's first stored assignment from then on. While the weights have
not changed since the start, that is what the deterministic buckets give, so a client needs nothing
more. Once an experiment is re-weighted (only possible while paused), stored assignments may differ from
the buckets: the payload then lists those units in ``overrides`` (unit -> stored variant) when there are
at most ``sdk_overrides_max`` stored assignments, and otherwise marks the experiment
``"assignment": "server"`` so the client asks the server once per unit.

One composed payload per environment is held in memory and dropped whenever the flag ruleset or the
experiments change on any instance (the cache's invalidations, local or from Redis pub/sub); listeners
(the stream) hear about it. While the database is unreachable, the last payload built keeps being
served (rebuilt again once a second at most), as flag evaluation keeps its last ruleset.
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
from experimently.degraded import dependency_of
from experimently.errors import DEPENDENCY_RETRY_AFTER
from experimently.experiments.models import Experiment
from experimently.experiments.schemas import Status
from experimently.experiments.service import NAMESPACE as EXPERIMENTS_NAMESPACE
from experimently.flags.documents import segment_document
from experimently.flags.evaluation import FlagEvaluation, referenced_segments
from experimently.flags.service import RULESET_NAMESPACE
from experimently.sdk import repository
from experimently.segments import repository as segment_repository
from experimently_sdk.bucketing import bucket, cumulative_boundaries, pick

log = structlog.get_logger(__name__)

PAYLOAD_VERSION = 2
WATCHED = frozenset({RULESET_NAMESPACE, EXPERIMENTS_NAMESPACE})


@dataclass(frozen=True, slots=True)
class SdkPayload:
    environment: str
    etag: str  # quoted, as in the ETag header
    payload: dict[str, Any]
    # the answer of ``GET /sdk/flags`` (``{"data": payload, "meta": {}}``), encoded once per build
    # rather than on every request (~15% of the endpoint's CPU)
    body: bytes

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def experiment_document(
    exp: Experiment, layer_salt: str | None, overrides: dict[str, str] | None
) -> dict[str, Any]:
    """``overrides``: None when the buckets give every stored answer, else the units whose stored
    variant differs ({} is possible), or ``SERVER`` when there were too many to list."""
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
        "assignment": "server" if overrides is SERVER else "local",
        "overrides": {} if overrides is None or overrides is SERVER else overrides,
    }


SERVER: dict[str, str] = {}  # sentinel: too many stored assignments to list


def bucket_overrides(exp: Experiment, stored: list[tuple[str, str]]) -> dict[str, str]:
    """Stored assignments the current weights would not give (the variant bucket only: layer and
    traffic cannot have excluded a stored unit, since they are frozen or only rise while live)."""
    points = [round(float(v["weight"]) * 100) for v in exp.variants]
    boundaries = cumulative_boundaries(points)
    keys = [str(v["key"]) for v in exp.variants]
    seed = f"{exp.salt}:variant"
    return {
        unit: variant for unit, variant in stored if keys[pick(boundaries, bucket(seed, unit))] != variant
    }


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


class SdkPayloads:
    def __init__(
        self, db: Database, cache: Cache, flags: FlagEvaluation, *, overrides_max: int, ttl: float = 30.0
    ) -> None:
        self.db = db
        self.overrides_max = overrides_max
        self.flags = flags
        self.ttl = ttl
        self._memo: dict[str, tuple[float, SdkPayload]] = {}
        # the last payload built per environment, kept across invalidations: what is served while the
        # database is unreachable (as flag evaluation keeps its last ruleset)
        self._last_good: dict[str, SdkPayload] = {}
        self._stale: set[str] = set()  # environments served their last payload since a failed build
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

    async def get(self, environment: str, *, fresh: bool = False) -> SdkPayload:
        """The memoised payload, or (``fresh``) one rebuilt from the flag snapshot and the database."""
        hit = self._memo.get(environment)
        if not fresh and hit is not None and hit[0] > time.monotonic():
            return hit[1]
        generation = self._generation
        try:
            built = await self._build(environment)
        except Exception as exc:
            last = self._last_good.get(environment)
            dependency = dependency_of(exc)
            if last is None or dependency is None:
                raise
            # serve the last payload; try again after the retry interval clients are given, not on
            # every request (each attempt would wait for the database's connect timeout)
            if environment not in self._stale:
                self._stale.add(environment)
                log.warning(
                    "sdk.payload_served_stale",
                    environment=environment,
                    dependency=dependency,
                    error=repr(exc),
                )
            if generation == self._generation:
                self._memo[environment] = (time.monotonic() + DEPENDENCY_RETRY_AFTER, last)
            return last
        self._last_good[environment] = built
        if environment in self._stale:
            self._stale.discard(environment)
            log.info("sdk.payload_rebuilt", environment=environment)
        if generation == self._generation:  # a change landed meanwhile: do not keep what we read
            self._memo[environment] = (time.monotonic() + self.ttl, built)
        return built

    async def _build(self, environment: str) -> SdkPayload:
        snap = await self.flags.snapshot(environment)
        async with self.db.sessions() as session:
            experiments = await repository.environment_experiments(session, environment)
            salts = await repository.layer_salts(session, {e.layer_key for e in experiments if e.layer_key})
            segments = await _experiment_segments(session, experiments, snap.payload["segments"])
            overrides: dict[str, dict[str, str] | None] = {}
            for exp in experiments:
                overrides[exp.key] = None
                if exp.reweighted_at is not None and exp.status in (Status.RUNNING, Status.PAUSED):
                    if await repository.assignment_count(session, exp.id) > self.overrides_max:
                        overrides[exp.key] = SERVER
                    else:
                        stored = await repository.stored_assignments(session, exp.id)
                        overrides[exp.key] = bucket_overrides(exp, stored)
        payload = {
            **snap.payload,
            "segments": segments,
            "payload_version": PAYLOAD_VERSION,
            # the flags whose exposures the server records (a guarded rollout is being compared):
            # clients record exactly these, per rollout step, and nothing for the other flags
            "guarded_rollouts": dict(snap.guarded),
            "experiments": [
                experiment_document(e, salts.get(e.layer_key) if e.layer_key else None, overrides[e.key])
                for e in experiments
            ],
        }
        body = json.dumps({"data": payload, "meta": {}}, separators=(",", ":"), allow_nan=False).encode()
        return SdkPayload(environment, f'"{_digest(payload)}"', payload, body)


async def _experiment_segments(
    session: Any, experiments: Sequence[Experiment], flag_segments: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The flags' segments plus those experiment targeting uses (directly or through other segments)."""
    have = {str(s["key"]) for s in flag_segments}
    documents = [{"rules": [{"conditions": e.targeting}]} for e in experiments if e.targeting]
    if not documents:
        return [dict(s) for s in flag_segments]
    stored = {s.key: s for s in await segment_repository.all_segments(session)}
    used = referenced_segments(documents, {k: s.conditions for k, s in stored.items()})
    extra = [segment_document(stored[k]) for k in sorted(used - have)]
    return [*(dict(s) for s in flag_segments), *extra]
