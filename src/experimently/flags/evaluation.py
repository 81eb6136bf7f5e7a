"""Server-side evaluation on the shared engine: one compiled ruleset per environment, held in L1,
shared through L2 (Redis) as the JSON payload, rebuilt from the database (L3) on a miss."""

from __future__ import annotations

import hashlib
import json
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from experimently.cache import Cache
from experimently.db import Database
from experimently.flags import repository
from experimently.flags.documents import engine_document, experiment_keys, segment_document
from experimently.flags.service import RULESET_NAMESPACE
from experimently.kit.references import segment_keys
from experimently_sdk import EvaluationResult, Evaluator, ExperimentResolver, Ruleset

EVALUATIONS = Counter("experimently_flag_evaluations_total", "Flag evaluations by reason", ["reason"])


@dataclass(frozen=True, slots=True)
class EnvSnapshot:
    environment: str
    payload: dict[str, Any]
    etag: str
    evaluator: Evaluator
    experiments: dict[str, list[str]]  # flag key -> experiments it hands decisions to (computed once)


def build_context(user_id: str | int | None, attributes: Mapping[str, Any]) -> dict[str, Any]:
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
    def __init__(self, db: Database, cache: Cache) -> None:
        self.db = db
        self.cache = cache
        self._previous: dict[str, Ruleset] = {}

    async def _load(self, environment: str) -> dict[str, Any]:
        async with self.db.sessions() as session:
            flags = await repository.all_flags(session)
            segments = await repository.all_segments(session)
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
        }

    def _build(self, raw: dict[str, Any]) -> EnvSnapshot:
        payload = raw["payload"]
        env = str(payload["environment"])
        compiled = {"flags": payload["flags"], "segments": raw["segments"]}
        ruleset = Ruleset.from_payload(compiled, previous=self._previous.get(env))
        self._previous[env] = ruleset
        experiments = {str(f["key"]): keys for f in payload["flags"] if (keys := experiment_keys(f))}
        return EnvSnapshot(env, payload, str(raw["etag"]), Evaluator(ruleset), experiments)

    async def snapshot(self, environment: str) -> EnvSnapshot:
        cached = self.cache.peek(RULESET_NAMESPACE, environment)
        if cached is not None:
            return cached  # type: ignore[no-any-return]  # L1 holds EnvSnapshot values only
        snap: EnvSnapshot = await self.cache.get_or_load(
            RULESET_NAMESPACE, environment, lambda: self._load(environment), decode=self._build
        )
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
        EVALUATIONS.labels(result.reason).inc()
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
        return results

    async def evaluate_all(
        self, environment: str, context: Mapping[str, Any], resolver: ExperimentResolver | None = None
    ) -> dict[str, EvaluationResult]:
        snap = await self.snapshot(environment)
        results = snap.evaluator.evaluate_all(context, experiment_resolver=resolver)
        _count(results.values())
        return results


def _count(results: Any) -> None:
    for reason, count in Tally(r.reason for r in results).items():
        EVALUATIONS.labels(reason).inc(count)
