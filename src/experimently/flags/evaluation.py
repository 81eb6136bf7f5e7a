"""Server-side evaluation on the shared engine: one compiled ruleset per environment, held in L1,
shared through L2 (Redis) as the JSON payload, rebuilt from the database (L3) on a miss."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import degraded
from experimently.cache import Cache
from experimently.db import Database
from experimently.degraded import dependency_of
from experimently.flags import repository
from experimently.flags.documents import engine_document, experiment_keys, segment_document
from experimently.flags.exposures import ExposureRecorder
from experimently.flags.schemas import UnitValue
from experimently.flags.service import RULESET_NAMESPACE
from experimently.kit.metrics import incrementer
from experimently.kit.references import segment_keys
from experimently.segments import repository as segment_repository
from experimently_sdk import EvaluationResult, Evaluator, ExperimentResolver, Ruleset

RELOADS = Counter(
    "experimently_ruleset_reloads_total", "Rulesets loaded after an L1 miss (one per change per instance)"
)
STALE_SERVED = Counter(
    "experimently_ruleset_stale_served_total",
    "Evaluations answered from the previous ruleset while a reload was slow or failed",
    ["reason"],
)
EVALUATIONS = Counter("experimently_flag_evaluations_total", "Flag evaluations by reason", ["reason"])


@functools.cache
def _evaluations(reason: str) -> Any:
    """The labelled child's increment, kept (``labels()`` locks and checks its arguments on every
    call; ``kit.metrics``)."""
    return incrementer(EVALUATIONS.labels(reason))


@dataclass(frozen=True, slots=True)
class EnvSnapshot:
    environment: str
    payload: dict[str, Any]
    etag: str
    evaluator: Evaluator
    experiments: dict[str, list[str]]  # flag key -> experiments it hands decisions to (computed once)
    # flag key -> "<rollout id>.<step>" of the guarded rollout running here (exposures are recorded)
    guarded: dict[str, str] = field(default_factory=dict)


# the guarded rollouts running in an environment (flag key -> marker); provided by safety.rollouts
GuardedLoader = Callable[[AsyncSession, str], Awaitable[dict[str, str]]]


def build_context(user_id: UnitValue, attributes: Mapping[str, Any]) -> dict[str, Any]:
    context = dict(attributes)
    if user_id is not None:
        context["user_id"] = user_id
    return context


def referenced_segments(documents: Sequence[Mapping[str, Any]], segments: Mapping[str, Any]) -> set[str]:
    """Segments the environment's flags use, directly or through other segments. Only these are shipped
    to SDKs: a segment nobody references (a user list, say) is not handed to every key holder."""
    pending = {
        key
        for doc in documents
        for rule in doc.get("rules", [])
        for key in segment_keys(rule.get("conditions"))
    }
    used: set[str] = set()
    while pending:
        key = pending.pop()
        if key not in used and key in segments:
            used.add(key)
            pending |= segment_keys(segments[key])
    return used


class FlagEvaluation:
    def __init__(self, db: Database, cache: Cache, *, reload_wait_seconds: float = 2.0) -> None:
        self.db = db
        self.cache = cache
        self._previous: dict[str, Ruleset] = {}
        self.guarded_loader: GuardedLoader | None = None
        self.exposures: ExposureRecorder | None = None
        self._last: dict[str, EnvSnapshot] = {}  # last good snapshot per environment (served if a load fails)
        self._inflight: dict[str, asyncio.Task[EnvSnapshot]] = {}
        self.reload_wait_seconds = reload_wait_seconds
        self._started: dict[str, float] = {}  # when the in-flight load of each environment began

    async def _load(self, environment: str) -> dict[str, Any]:
        async with self.db.sessions() as session:
            flags = await repository.all_flags(session)
            segments = await segment_repository.all_segments(session)
            guarded = await self.guarded_loader(session, environment) if self.guarded_loader else {}
        documents = [engine_document(f, environment) for f in flags]
        used = referenced_segments(documents, {s.key: s.conditions for s in segments})
        payload = {
            "environment": environment,
            "flags": documents,
            "segments": [segment_document(s) for s in segments if s.key in used],
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]
        # the server compiles every segment (experiment targeting uses them too); SDKs get the used ones
        return {
            "etag": f'"{digest}"',
            "payload": payload,
            "segments": [segment_document(s) for s in segments],
            "guarded": guarded,
        }

    def _build(self, raw: dict[str, Any]) -> EnvSnapshot:
        payload = raw["payload"]
        env = str(payload["environment"])
        compiled = {"flags": payload["flags"], "segments": raw["segments"]}
        ruleset = Ruleset.from_payload(compiled, previous=self._previous.get(env))
        self._previous[env] = ruleset
        experiments = {str(f["key"]): keys for f in payload["flags"] if (keys := experiment_keys(f))}
        guarded = {str(k): str(v) for k, v in (raw.get("guarded") or {}).items()}
        return EnvSnapshot(env, payload, str(raw["etag"]), Evaluator(ruleset), experiments, guarded)

    async def snapshot(self, environment: str) -> EnvSnapshot:
        cached = self.cache.peek(RULESET_NAMESPACE, environment)
        if cached is not None:
            return cached  # type: ignore[no-any-return]  # L1 holds EnvSnapshot values only
        return await self._reload(environment)

    async def _reload(self, environment: str) -> EnvSnapshot:
        """Single flight: however many requests miss L1 at once, one load runs per environment and
        every one of them awaits it. While it runs longer than ``reload_wait_seconds``, or when it
        fails because a dependency is down, the previous ruleset keeps serving."""
        task = self._inflight.get(environment)
        if task is None:
            task = asyncio.create_task(self._load_snapshot(environment), name=f"ruleset-load:{environment}")
            self._inflight[environment] = task
            self._started[environment] = time.monotonic()
            task.add_done_callback(lambda _t: self._inflight.pop(environment, None))
        previous = self._last.get(environment)
        if previous is None:
            return await asyncio.shield(task)
        if degraded.is_down(degraded.DATABASE):  # out: the previous ruleset at once, the load goes on
            STALE_SERVED.labels("unavailable").inc()
            return previous
        # what is left of the wait: a request arriving while a slow load runs waits only for the rest
        # of it, never for a whole wait of its own (a database that hangs cost each request 2 s per
        # look-up of the ruleset)
        left = self._started[environment] + self.reload_wait_seconds - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(left, 0.0))
        except TimeoutError:
            STALE_SERVED.labels("slow").inc()
            return previous
        except Exception as exc:
            if dependency_of(exc) is None:
                raise
            STALE_SERVED.labels("unavailable").inc()
            return previous

    async def _load_snapshot(self, environment: str) -> EnvSnapshot:
        RELOADS.inc()
        snap: EnvSnapshot = await self.cache.get_or_load(
            RULESET_NAMESPACE, environment, lambda: self._load(environment), decode=self._build
        )
        self._last[environment] = snap
        return snap

    async def evaluate(
        self,
        environment: str,
        flag_key: str,
        context: Mapping[str, Any],
        default: Any = None,
        resolver: ExperimentResolver | None = None,
    ) -> EvaluationResult:
        snap = await self.snapshot(environment)
        result = snap.evaluator.evaluate(flag_key, context, default=default, experiment_resolver=resolver)
        _evaluations(result.reason)(1)
        if snap.guarded and self.exposures is not None:
            self.exposures.record(
                environment, snap.guarded, flag_key, context.get("user_id"), result.variation
            )
        return result

    async def evaluate_many(
        self,
        environment: str,
        flag_key: str,
        contexts: Sequence[Mapping[str, Any]],
        resolver: ExperimentResolver | None = None,
    ) -> list[EvaluationResult]:
        snap = await self.snapshot(environment)
        results = snap.evaluator.evaluate_many(flag_key, contexts, experiment_resolver=resolver)
        _count(results)
        if flag_key in snap.guarded and self.exposures is not None:
            for context, result in zip(contexts, results, strict=True):
                self.exposures.record(
                    environment, snap.guarded, flag_key, context.get("user_id"), result.variation
                )
        return results

    async def evaluate_all(
        self, environment: str, context: Mapping[str, Any], resolver: ExperimentResolver | None = None
    ) -> dict[str, EvaluationResult]:
        snap = await self.snapshot(environment)
        results = snap.evaluator.evaluate_all(context, experiment_resolver=resolver)
        _count(results.values())
        if snap.guarded and self.exposures is not None:
            unit = context.get("user_id")
            for key in snap.guarded:
                if key in results:
                    self.exposures.record(environment, snap.guarded, key, unit, results[key].variation)
        return results


def _count(results: Any) -> None:
    for reason, count in Tally(r.reason for r in results).items():
        EVALUATIONS.labels(reason).inc(count)
