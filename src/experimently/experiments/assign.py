"""Assignment for applications: deterministic from the shared engine, sticky through the assignments
table (the first assignment is stored and returned from then on, whatever later edits do), with one
exposure event per unit and experiment.

Compiled definitions of every experiment are held in L1 (namespace ``experiments``) and dropped on
every instance after any experiment change."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.cache import Cache
from experimently.db import Database, after_commit
from experimently.errors import NotFound
from experimently.events.ingest import EventIngest
from experimently.experiments import repository
from experimently.experiments.schemas import AssignmentRead, AssignRequest, Status
from experimently.experiments.service import NAMESPACE
from experimently.flags.evaluation import FlagEvaluation
from experimently.kit.clock import now
from experimently_sdk import CompiledExperiment, ExperimentDef, Layer, assign, compile_experiment
from experimently_sdk.bucketing import unit_text
from experimently_sdk.conditions import Errors, parse_conditions
from experimently_sdk.model import Condition
from experimently_sdk.operators import Matcher

ASSIGNMENTS = Counter(
    "experimently_experiment_assignments_total", "Assignment decisions by reason", ["reason"]
)


@dataclass(frozen=True, slots=True)
class LiveExperiment:
    id: str
    key: str
    environment: str
    status: str
    bucket_by: str
    payloads: dict[str, Any]
    compiled: CompiledExperiment


def _definition(row: Mapping[str, Any]) -> LiveExperiment:
    layer = None
    if row["layer_salt"] is not None:
        layer = Layer(row["layer_salt"], row["layer_range_start"], row["layer_range_end"])
    definition = ExperimentDef(
        key=row["key"],
        salt=row["salt"],
        variants=tuple((v["key"], float(v["weight"])) for v in row["variants"]),
        traffic_allocation=float(row["traffic_allocation"]),
        conditions=_conditions(row["targeting"]),
        bucket_by=row["bucket_by"],
        layer=layer,
    )
    return LiveExperiment(
        row["id"],
        row["key"],
        row["environment"],
        row["status"],
        row["bucket_by"],
        {v["key"]: v.get("payload") for v in row["variants"]},
        compile_experiment(definition),
    )


def _conditions(conditions: list[Any]) -> tuple[Condition, ...]:
    """Targeting was validated at save time (segments included); here segment references are taken as
    they are and resolved against the environment's compiled segments when assigning."""
    return parse_conditions(conditions, "conditions", Errors(), lambda *_: None)


class StickyCache:
    """Stored assignments seen by this instance (they never change once stored), so a repeat assignment
    needs no database read. Bounded (least recently used go first) and dropped on any experiment change
    or privacy erasure."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], str] = OrderedDict()

    def get_many(self, experiment_id: str, units: Sequence[str | None]) -> dict[str, str]:
        found: dict[str, str] = {}
        for unit in units:
            if unit is not None:
                variant = self._entries.get((experiment_id, unit))
                if variant is not None:
                    self._entries.move_to_end((experiment_id, unit))
                    found[unit] = variant
        return found

    def put_many(self, experiment_id: str, assigned: Mapping[str, str]) -> None:
        for unit, variant in assigned.items():
            self._entries[(experiment_id, unit)] = variant
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True, slots=True)
class Decision:
    result: AssignmentRead
    new: bool


class AssignmentService:
    def __init__(self, db: Database, cache: Cache, flags: FlagEvaluation, ingest: EventIngest | None) -> None:
        self.db = db
        self.cache = cache
        self.flags = flags  # its snapshot holds the environment's segment matchers
        self.ingest = ingest  # exposures go through ingestion (None: not recorded)
        self.sticky = StickyCache()
        # any experiment change (and a privacy erasure) drops the sticky reads of this instance
        cache.on_invalidate(lambda namespace, _key: self.sticky.clear() if namespace == NAMESPACE else None)

    async def _load(self) -> list[dict[str, Any]]:
        async with self.db.sessions() as session:
            rows = await repository.not_archived(session)
            salts = await repository.layer_salts(session)
        return [
            {
                "id": r.id,
                "key": r.key,
                "environment": r.environment,
                "status": r.status,
                "bucket_by": r.bucket_by,
                "salt": r.salt,
                "variants": r.variants,
                "traffic_allocation": r.traffic_allocation,
                "targeting": r.targeting,
                "layer_salt": salts.get(r.layer_key) if r.layer_key else None,
                "layer_range_start": r.layer_range_start,
                "layer_range_end": r.layer_range_end,
            }
            for r in rows
        ]

    async def definitions(self) -> dict[str, LiveExperiment]:
        loaded: dict[str, LiveExperiment] = await self.cache.get_or_load(
            NAMESPACE, "all", self._load, decode=lambda rows: {r["key"]: _definition(r) for r in rows}
        )
        return loaded

    async def _segments(self, environment: str) -> Mapping[str, Matcher]:
        snap = await self.flags.snapshot(environment)
        matchers: Mapping[str, Matcher] = snap.evaluator.ruleset.segment_matchers
        return matchers

    async def experiment(self, key: str) -> LiveExperiment:
        exp = (await self.definitions()).get(key)
        if exp is None:
            raise NotFound("experiment", key)
        return exp

    async def decide(
        self, session: AsyncSession, environment: str, exp: LiveExperiment, requests: Sequence[AssignRequest]
    ) -> list[Decision]:
        """Decisions for many units of one experiment (one read of stored assignments)."""
        contexts = [_context(exp, r) for r in requests]
        units = [unit_text(c.get(exp.bucket_by)) for c in contexts]
        if exp.environment != environment or exp.status != Status.RUNNING:
            reason = "WRONG_ENVIRONMENT" if exp.environment != environment else "NOT_RUNNING"
            return [
                Decision(
                    AssignmentRead(
                        experiment_key=exp.key, unit_id=u, in_experiment=False, variant=None, reason=reason
                    ),
                    False,
                )
                for u in units
            ]
        stored = self.sticky.get_many(exp.id, units)
        missing = [u for u in units if u is not None and u not in stored]
        if missing:
            found = await repository.stored_assignments(session, exp.id, missing)
            self.sticky.put_many(exp.id, found)
            stored |= found
        segments = await self._segments(environment)
        decisions: list[Decision] = []
        fresh: dict[str, str] = {}
        for unit, context in zip(units, contexts, strict=True):
            variant = stored.get(unit) if unit is not None else None
            if variant is not None:
                decisions.append(Decision(self._read(exp, unit, variant, "STICKY", True), False))
                continue
            if unit is not None and unit in fresh:
                decisions.append(Decision(self._read(exp, unit, fresh[unit], "ASSIGNED", False), False))
                continue
            result = assign(exp.compiled, context, segments)
            if result.variant is not None and unit is not None:
                fresh[unit] = result.variant
            decisions.append(
                Decision(
                    self._read(exp, unit, result.variant, str(result.reason), False),
                    result.variant is not None,
                )
            )
        for d in decisions:
            ASSIGNMENTS.labels(d.result.reason).inc()
        return decisions

    async def _remember(self, experiment_id: str, assigned: Mapping[str, str | None]) -> None:
        self.sticky.put_many(experiment_id, {str(u): str(v) for u, v in assigned.items() if u and v})

    def _read(
        self, exp: LiveExperiment, unit: str | None, variant: str | None, reason: str, sticky: bool
    ) -> AssignmentRead:
        return AssignmentRead(
            experiment_key=exp.key,
            unit_id=unit,
            in_experiment=variant is not None,
            variant=variant,
            payload=exp.payloads.get(variant) if variant else None,
            reason=reason,
            sticky=sticky,
        )

    async def persist(
        self, session: AsyncSession, environment: str, exp: LiveExperiment, decisions: Sequence[Decision]
    ) -> None:
        """Store first assignments and send their exposure events (deterministic ids: never duplicated)."""
        new = {d.result.unit_id: d.result.variant for d in decisions if d.new and d.result.unit_id}
        if not new:
            return
        moment = now()
        after_commit(session, lambda: self._remember(exp.id, new))
        await repository.insert_assignments(
            session,
            [
                {
                    "experiment_id": exp.id,
                    "unit_id": unit,
                    "variant": variant,
                    "environment": environment,
                    "assigned_at": moment,
                }
                for unit, variant in new.items()
            ],
        )
        if self.ingest is not None:
            await self.ingest.submit(
                [
                    exposure_event(exp.key, unit, str(variant), moment.isoformat())
                    for unit, variant in new.items()
                ],
                environment=environment,
                fallback_session=session,
            )

    async def assign_many(
        self, session: AsyncSession, environment: str, key: str, requests: Sequence[AssignRequest]
    ) -> list[AssignmentRead]:
        exp = await self.experiment(key)
        decisions = await self.decide(session, environment, exp, requests)
        await self.persist(session, environment, exp, decisions)
        return [d.result for d in decisions]

    async def assign_all(
        self, session: AsyncSession, environment: str, request: AssignRequest
    ) -> list[AssignmentRead]:
        out: list[AssignmentRead] = []
        for exp in (await self.definitions()).values():
            if exp.environment == environment and exp.status == Status.RUNNING:
                decisions = await self.decide(session, environment, exp, [request])
                await self.persist(session, environment, exp, decisions)
                out.append(decisions[0].result)
        return out


def exposure_event(experiment_key: str, unit: str, variant: str, timestamp: str) -> dict[str, Any]:
    return {
        "event_id": f"exposure:{experiment_key}:{unit}",
        "name": "exposure",
        "user_id": unit,
        "experiment_key": experiment_key,
        "variant": variant,
        "timestamp": timestamp,
    }


def _context(exp: LiveExperiment, request: AssignRequest) -> dict[str, Any]:
    context: dict[str, Any] = dict(request.context)
    if request.user_id is not None:
        context["user_id"] = request.user_id
    if request.unit_id is not None:
        context[exp.bucket_by] = request.unit_id
    return context
