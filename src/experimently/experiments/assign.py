"""Assignment for applications: deterministic from the shared engine, sticky through the assignments
table (the first assignment is stored and returned from then on, whatever later edits do), with one
exposure event per unit and experiment.

A repeat is answered from this instance's cache of stored assignments, without the database. A unit
not in that cache goes to :class:`~experimently.experiments.group_commit.GroupCommit`: concurrent
first assignments share one insert, one read of the units stored before and one exposure append.

Compiled definitions of every experiment are held in L1 (namespace ``experiments``) and dropped on
every instance after any experiment change."""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.cache import Cache
from experimently.db import Database, after_commit
from experimently.errors import NotFound, ValidationFailed
from experimently.events.ingest import EventIngest
from experimently.experiments import repository
from experimently.experiments.group_commit import GroupCommit, Outcome, Pair, Pending, exposure_event
from experimently.experiments.schemas import AssignmentRead, AssignRequest, Status
from experimently.experiments.service import NAMESPACE
from experimently.flags.evaluation import FlagEvaluation
from experimently.kit.clock import now
from experimently.kit.metrics import incrementer
from experimently_sdk import (
    Assignment,
    CompiledExperiment,
    Condition,
    ExperimentDef,
    Layer,
    Matcher,
    RuleValidationError,
    assign,
    compile_experiment,
    parse_targeting,
    unit_text,
)

log = structlog.get_logger(__name__)
UNIT_MAX = 200  # characters: the assignments' unit column, and an event's user_id
ASSIGNMENTS = Counter(
    "experimently_experiment_assignments_total", "Assignment decisions by reason", ["reason"]
)


@functools.cache
def _assignments(reason: str) -> Any:
    """The increment of the counter's child for one reason, kept (``labels()`` locks and checks on
    every call; ``kit.metrics``)."""
    return incrementer(ASSIGNMENTS.labels(reason))


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
    they are and resolved against the environment's compiled segments when assigning. Raises
    ``RuleValidationError`` on anything else wrong (stored data that no longer parses)."""
    return parse_targeting(conditions)


def _definitions(rows: list[dict[str, Any]]) -> dict[str, LiveExperiment]:
    """Every experiment whose stored targeting parses; one that does not is logged as an error and left
    out (its assignments answer 404) rather than failing the assignments of every other experiment."""
    live: dict[str, LiveExperiment] = {}
    for row in rows:
        try:
            live[row["key"]] = _definition(row)
        except RuleValidationError as exc:
            log.error("experiment.targeting_invalid", experiment_key=row["key"], errors=exc.errors)
    return live


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
        self._loading: asyncio.Future[Any] | None = None
        # SQLite has one writer: more concurrent transactions would only queue on its lock
        self.writer = GroupCommit(db, ingest, writers=1 if db.dialect == "sqlite" else 2)
        # any experiment change (and a privacy erasure) drops the sticky reads of this instance
        cache.on_invalidate(self._invalidated)

    def _invalidated(self, namespace: str, _key: str | None) -> None:
        if namespace == NAMESPACE:
            self.sticky.clear()
            self._loading = None  # a load in flight read the old state: later callers start a new one

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
        """From L1; on a miss ONE load for all the callers waiting (after an experiment change every
        concurrent request missed at once, each opening a connection: a stampede on the pool)."""
        found: dict[str, LiveExperiment] | None = self.cache.peek(NAMESPACE, "all")
        if found is not None:
            return found
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(
                self.cache.get_or_load(NAMESPACE, "all", self._load, decode=_definitions)
            )
        loaded: dict[str, LiveExperiment] = await asyncio.shield(self._loading)
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
        """Decisions for many units of one experiment (one read of stored assignments). A unit over
        :data:`UNIT_MAX` characters, which could be neither stored nor exposed, is not in the
        experiment (``MISSING_UNIT``): the flag serving it goes on to its next rule."""
        contexts = [_context(exp, r) for r in requests]
        units = [unit_text(c.get(exp.bucket_by)) for c in contexts]
        for i, unit in enumerate(units):
            if unit is not None and (len(unit) > UNIT_MAX or not unit):
                if unit:
                    log.warning("experiment.unit_too_long", experiment_key=exp.key, length=len(unit))
                units[i] = None  # an empty unit names nobody: no assignment, no exposure
                contexts[i] = {k: v for k, v in contexts[i].items() if k != exp.bucket_by}
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
            _assignments(d.result.reason)(1)
        return decisions

    async def _remember(self, experiment_id: str, assigned: Mapping[str, str | None]) -> None:
        self.sticky.put_many(experiment_id, {str(u): str(v) for u, v in assigned.items() if u and v})

    def _read(
        self, exp: LiveExperiment, unit: str | None, variant: str | None, reason: str, sticky: bool
    ) -> AssignmentRead:
        # built without validation: every value is the service's own (the payloads were validated as
        # JSON when the experiment was saved); validating ``payload`` per answer was ~3% of a repeat
        return AssignmentRead.model_construct(
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
        self, session: AsyncSession | None, environment: str, key: str, requests: Sequence[AssignRequest]
    ) -> list[AssignmentRead]:
        """Assign units of one experiment (the endpoints' service call). ``session`` is not used: a
        first assignment is written by the group commit in a transaction of its own, committed
        before this returns (kept in the signature for the callers; ``None`` is fine)."""
        return await self.assign(environment, await self.experiment(key), requests)

    async def assign_all(
        self, session: AsyncSession | None, environment: str, request: AssignRequest
    ) -> list[AssignmentRead]:
        """One unit in every running experiment of the environment (their first assignments share
        one group commit)."""
        running = [
            exp
            for exp in (await self.definitions()).values()
            if exp.environment == environment and exp.status == Status.RUNNING
        ]
        answers = await asyncio.gather(*(self.assign(environment, exp, [request]) for exp in running))
        return [a[0] for a in answers]

    async def assign(
        self, environment: str, exp: LiveExperiment, requests: Sequence[AssignRequest]
    ) -> list[AssignmentRead]:
        contexts = [_context(exp, r) for r in requests]
        units = [unit_text(c.get(exp.bucket_by)) for c in contexts]
        _check_units(exp, units, bulk=len(requests) > 1)
        if exp.environment != environment or exp.status != Status.RUNNING:
            reason = "WRONG_ENVIRONMENT" if exp.environment != environment else "NOT_RUNNING"
            return [self._read(exp, u, None, reason, False) for u in units]
        stored = self.sticky.get_many(exp.id, units)
        answers: list[AssignmentRead | None] = [
            self._read(exp, u, stored[u], "STICKY", True) if u is not None and u in stored else None
            for u in units
        ]
        if any(a is None for a in answers):
            await self._first(environment, exp, contexts, units, answers)
        done = [a for a in answers if a is not None]
        for a in done:
            _assignments(a.reason)(1)
        return done

    async def _first(
        self,
        environment: str,
        exp: LiveExperiment,
        contexts: Sequence[dict[str, Any]],
        units: Sequence[str | None],
        answers: list[AssignmentRead | None],
    ) -> None:
        """Fill the answers of units not in the sticky cache: the engine decides, the group commit
        stores (or finds the variant stored first, which wins)."""
        segments = await self._segments(environment)
        decided: dict[int, Assignment] = {}
        pending: list[Pending] = []
        for i, answer in enumerate(answers):
            if answer is None:
                decided[i] = result = assign(exp.compiled, contexts[i], segments)
                if units[i] is not None:
                    pending.append(Pending(exp.id, exp.key, environment, str(units[i]), result.variant))
        outcomes: dict[Pair, Outcome] = await self.writer.settle(pending) if pending else {}
        self.sticky.put_many(
            exp.id, {unit: o.stored for (_, unit), o in outcomes.items() if o.stored is not None}
        )
        for i, result in decided.items():
            unit = units[i]
            outcome = outcomes.get((exp.id, unit)) if unit is not None else None
            if outcome is not None and outcome.first:
                answers[i] = self._read(exp, unit, outcome.stored, str(result.reason), False)
            elif outcome is not None and outcome.stored is not None:
                answers[i] = self._read(exp, unit, outcome.stored, "STICKY", True)
            else:
                answers[i] = self._read(exp, unit, result.variant, str(result.reason), False)


def _check_units(exp: LiveExperiment, units: Sequence[str | None], *, bulk: bool) -> None:
    """A unit is stored (assignments) and sent as its exposure's ``user_id``, both 1 to
    :data:`UNIT_MAX` characters: another is refused here rather than assigned and never counted."""
    for unit in units:  # the common case, every unit fine, in one cheap pass (under a microsecond)
        if unit is not None and (len(unit) > UNIT_MAX or not unit):
            break
    else:
        return
    problems = [
        {
            "path": f"units[{i}].unit_id" if bulk else "unit_id",
            "message": f"the unit ('{exp.bucket_by}') must be 1 to {UNIT_MAX} characters"
            + (" (it is empty)" if not unit else ""),
        }
        for i, unit in enumerate(units)
        if unit is not None and (len(unit) > UNIT_MAX or not unit)
    ]
    if problems:
        raise ValidationFailed("unit empty or too long", problems)


def _context(exp: LiveExperiment, request: AssignRequest) -> dict[str, Any]:
    context: dict[str, Any] = dict(request.context)
    if request.user_id is not None:
        context["user_id"] = request.user_id
    if request.unit_id is not None:
        context[exp.bucket_by] = request.unit_id
    return context
