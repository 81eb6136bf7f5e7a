"""Experiment rules: create, update (what is editable depends on the status), lifecycle transitions,
layers. Every change is audited and invalidates the assignment definitions on every instance."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor, ActorKind
from experimently.audit.service import diff, jsonable
from experimently.cache import Cache
from experimently.db import Database
from experimently.environments.service import get_environment_by_key
from experimently.errors import Conflict, NotFound, ValidationFailed, check_version
from experimently.experiments import lifecycle, repository
from experimently.experiments.models import Experiment, Layer
from experimently.experiments.schemas import (
    ExperimentCreate,
    ExperimentRead,
    ExperimentUpdate,
    LayerCreate,
    LayerRead,
    Status,
)
from experimently.flags import service as flag_service
from experimently.flags.documents import segment_document
from experimently.kit.clock import ensure_utc, iso, now
from experimently.metrics import repository as metric_repository
from experimently.rbac import Permission, permissions_for, require, require_environment
from experimently.segments import repository as segment_repository
from experimently.webhooks.outbox import actor_summary, emit
from experimently_sdk import RuleValidationError, validate_experiment_targeting
from experimently_sdk.bucketing import BUCKETS

NAMESPACE = "experiments"
LAYER_BUCKETS = BUCKETS  # a layer splits the engine's bucket space


def snapshot(exp: Experiment) -> dict[str, Any]:
    return audit.snapshot(ExperimentRead, exp)


async def _validate_targeting(session: AsyncSession, conditions: list[dict[str, Any]]) -> None:
    segments = {s.key: segment_document(s) for s in await segment_repository.all_segments(session)}
    try:
        validate_experiment_targeting(conditions, segments)
    except RuleValidationError as exc:
        raise ValidationFailed(
            "targeting failed validation",
            [{"path": f"targeting{p[len('conditions') :]}", "message": m} for p, m in exc.errors],
        ) from None


async def _check_metrics(session: AsyncSession, fields: dict[str, Any]) -> None:
    """Metric keys must name defined metrics (422 with the exact path of each unknown one)."""
    paths: list[tuple[str, str]] = []
    for field in ("primary_metric", "secondary_metrics", "guardrail_metrics"):
        value = fields.get(field)
        if isinstance(value, str):
            paths.append((field, value))
        elif isinstance(value, list):
            paths.extend((f"{field}[{i}]", str(key)) for i, key in enumerate(value))
    if not paths:
        return
    known = await metric_repository.by_keys(session, [key for _, key in paths])
    unknown = [{"path": path, "message": f"no metric '{key}'"} for path, key in paths if key not in known]
    if unknown:
        raise ValidationFailed("unknown metric", unknown)


async def _allocate(
    session: AsyncSession, exp: Experiment, layer_key: str | None, share: float | None
) -> None:
    """Give ``exp`` a free range of its layer's buckets, or refuse (the layer would be over-allocated)."""
    if layer_key is None:
        exp.layer_key, exp.layer_range_start, exp.layer_range_end = None, None, None
        return
    if await repository.get_layer(session, layer_key) is None:
        raise ValidationFailed("unknown layer", [{"path": "layer", "message": f"no layer '{layer_key}'"}])
    size = round((share or 100.0) * LAYER_BUCKETS / 100)
    taken = sorted(
        (m.layer_range_start or 0, m.layer_range_end or 0)
        for m in await repository.layer_members(session, layer_key)
        if m.id != exp.id
    )
    cursor = 0
    for start, end in [*taken, (LAYER_BUCKETS, LAYER_BUCKETS)]:
        if start - cursor >= size:
            exp.layer_key, exp.layer_range_start, exp.layer_range_end = layer_key, cursor, cursor + size
            return
        cursor = max(cursor, end)
    free = LAYER_BUCKETS - sum(end - start for start, end in taken)
    raise Conflict(
        f"layer '{layer_key}' cannot give {share}% of its traffic: it would be over-allocated",
        details={"layer": layer_key, "requested_buckets": size, "free_buckets": free},
    )


async def get(session: AsyncSession, actor: Actor, ref: str) -> Experiment:
    require(actor, Permission.EXPERIMENTS_READ)
    exp = await repository.get_experiment(session, ref)
    if exp is None:
        raise NotFound("experiment", ref)
    return exp


async def create(session: AsyncSession, cache: Cache, actor: Actor, body: ExperimentCreate) -> Experiment:
    require(actor, Permission.EXPERIMENTS_WRITE)
    if await repository.get_experiment(session, body.key) is not None:
        raise Conflict(f"experiment '{body.key}' exists", details={"key": body.key})
    await get_environment_by_key(session, body.environment)
    require_environment(actor, body.environment)
    await _validate_targeting(session, body.targeting)
    await _check_metrics(session, body.model_dump())
    moment = now()
    data = body.model_dump(exclude={"layer", "layer_share", "variants", "tags"})
    exp = Experiment(
        **data,
        variants=[v.model_dump() for v in body.variants],
        tags=sorted(set(body.tags)),
        owner_id=actor.owner,
        status=Status.DRAFT,
        salt=body.key,
        version=1,
        created_at=moment,
        updated_at=moment,
    )
    await _allocate(session, exp, body.layer, body.layer_share)
    session.add(exp)
    await session.flush()
    audit.record(session, actor, "experiment.created", "experiment", exp.id, after=snapshot(exp))
    cache.invalidate_on_commit(session, NAMESPACE)
    return exp


async def _load_for_write(session: AsyncSession, actor: Actor, ref: str) -> Experiment:
    exp = await repository.get_experiment(session, ref, for_update=True)
    if exp is None:
        raise NotFound("experiment", ref)
    require(actor, Permission.EXPERIMENTS_WRITE, owner_id=exp.owner_id)
    require_environment(actor, exp.environment)
    return exp


async def update(
    session: AsyncSession, cache: Cache, actor: Actor, ref: str, body: ExperimentUpdate
) -> Experiment:
    exp = await _load_for_write(session, actor, ref)
    check_version("experiment", exp.key, exp.version, body.version)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    frozen = lifecycle.frozen_fields(Status(exp.status), set(changes))
    if frozen:
        raise ValidationFailed(
            f"these fields cannot change while the experiment is {exp.status}",
            [{"path": f, "message": f"frozen in status {exp.status}"} for f in frozen],
        )
    if (
        "traffic_allocation" in changes
        and exp.status in (Status.RUNNING, Status.PAUSED)
        and (changes["traffic_allocation"] or 0) < exp.traffic_allocation
    ):
        raise ValidationFailed(
            "traffic allocation may only rise while running (lowering it would drop units)",
            [{"path": "traffic_allocation", "message": f"must be >= {exp.traffic_allocation}"}],
        )
    if body.variants is not None and exp.status == Status.PAUSED:
        _check_reweight(exp, body)
    if body.variants is not None and exp.status == Status.SCHEDULED:
        # a scheduled experiment starts on its own: its flags must map the variants it will have then
        keys = [v.key for v in body.variants]
        await _require_mapped(session, exp, keys, "unschedule it, change the variants, map them in the flags")
    before, weights = snapshot(exp), [(v["key"], v["weight"]) for v in exp.variants]
    await _apply(session, actor, exp, body, changes)
    if snapshot(exp) == before:
        return exp  # a request that changes nothing is no change: no version, no record
    if exp.started_at is not None and weights != [(v["key"], v["weight"]) for v in exp.variants]:
        exp.reweighted_at = now()  # SDK clients then ask the server (see docs/sdk-python.md)
    exp.version += 1
    exp.updated_at = now()
    audit.record(
        session, actor, "experiment.updated", "experiment", exp.id, before=before, after=snapshot(exp)
    )
    cache.invalidate_on_commit(session, NAMESPACE)
    return exp


def _check_reweight(exp: Experiment, body: ExperimentUpdate) -> None:
    """While paused only the weights may change: the keys, the control, and what each variant is (its
    name and payload) stay as the units exposed so far saw them."""
    old = [(v["key"], bool(v.get("is_control"))) for v in exp.variants]
    new = [(v.key, v.is_control) for v in body.variants or []]
    if old != new:
        raise ValidationFailed(
            "while paused only the weights may change (same variant keys, same control)",
            [{"path": "variants", "message": "variant keys and control are frozen"}],
        )
    changed = [
        {"path": f"variants[{i}].{field}", "message": f"frozen while paused (was {was!r})"}
        for i, (stored, sent) in enumerate(zip(exp.variants, body.variants or [], strict=True))
        for field, was, now_ in (
            ("name", stored.get("name", ""), sent.name),
            ("payload", stored.get("payload"), sent.payload),
        )
        if was != now_
    ]
    if changed:
        raise ValidationFailed(
            "while paused only the weights may change: a variant's name and payload are what the "
            "units exposed so far saw",
            changed,
        )


# fields an explicit null clears (every other null is "leave it": the field is required or has a default)
_CLEARABLE = frozenset({"planned_start", "planned_end", "primary_metric", "min_sample_size"})


async def _apply(
    session: AsyncSession, actor: Actor, exp: Experiment, body: ExperimentUpdate, changes: dict[str, Any]
) -> None:
    if body.targeting is not None:
        await _validate_targeting(session, body.targeting)
    await _check_metrics(session, changes)
    if body.environment is not None:
        await get_environment_by_key(session, body.environment)
        require_environment(actor, body.environment)
    if "layer" in changes or "layer_share" in changes:
        share = (
            body.layer_share
            if body.layer_share is not None
            else (((exp.layer_range_end or 0) - (exp.layer_range_start or 0)) / 100 or 100.0)
        )
        await _allocate(session, exp, changes.get("layer", exp.layer_key), share)
    for field, value in changes.items():
        if field in ("layer", "layer_share") or (value is None and field not in _CLEARABLE):
            continue
        if field == "variants":
            value = [v.model_dump() for v in body.variants or []]
        elif field == "tags":
            value = sorted(set(value))
        setattr(exp, field, value)
    if exp.planned_start and exp.planned_end and ensure_utc(exp.planned_end) <= ensure_utc(exp.planned_start):
        raise ValidationFailed(
            "planned_end must be after planned_start",
            [{"path": "planned_end", "message": "must be after planned_start"}],
        )


async def transition(
    session: AsyncSession, cache: Cache, actor: Actor, ref: str, action: str, reason: str | None
) -> Experiment:
    """Move the experiment through its lifecycle; audited with who and why, and emitted as a domain event."""
    exp = await _load_for_write(session, actor, ref)
    target = lifecycle.next_status(action, Status(exp.status))
    if action == "schedule" and exp.planned_start is None:
        raise ValidationFailed(
            "scheduling needs a planned start", [{"path": "planned_start", "message": "required to schedule"}]
        )
    if action in ("start", "schedule"):
        keys = [str(v["key"]) for v in exp.variants]
        await _require_mapped(session, exp, keys, f"map every variant in the flags, then {action} it")
    record_transition(session, actor, exp, action, target, reason)
    cache.invalidate_on_commit(session, NAMESPACE)
    return exp


async def _require_mapped(session: AsyncSession, exp: Experiment, variants: list[str], remedy: str) -> None:
    """422 when a flag rule serving ``exp`` in its environment would not map exactly ``variants``: a unit
    of an unmapped variant would be assigned and exposed, then served the flag's next rule, and the
    results would count it under a variant it never saw. The message names each flag and rule."""
    problems = await flag_service.unmapped_variants(session, exp.key, exp.environment, variants)
    if problems:
        where = "; ".join(f"flag '{p['flag']}', rule '{p['rule']}', {p['message']}" for p in problems)
        raise ValidationFailed(
            f"{where} (experiment '{exp.key}'): {remedy}",
            [{"path": p["path"], "message": p["message"]} for p in problems],
        )


SHIPPABLE = frozenset({Status.RUNNING, Status.PAUSED, Status.COMPLETED})


class _DryRun(Exception):  # not an error: how a dry run leaves its transaction, changing nothing
    def __init__(self, read: ExperimentRead) -> None:
        super().__init__("dry run")
        self.read = read


async def ship_variant(
    db: Database, cache: Cache, actor: Actor, ref: str, variant: str, reason: str, *, dry_run: bool
) -> ExperimentRead:
    """:func:`ship` in a transaction of its own; a ``dry_run`` goes through every check and change, then
    rolls them back and answers what the experiment would be (its ``shipped.flags``: what would change),
    so a preview can never disagree with the real thing."""
    try:
        async with db.transaction() as session:
            read = ExperimentRead.model_validate(await ship(session, cache, actor, ref, variant, reason))
            if dry_run:
                raise _DryRun(read)
            return read
    except _DryRun as preview:
        return preview.read


async def ship(
    session: AsyncSession, cache: Cache, actor: Actor, ref: str, variant: str, reason: str
) -> Experiment:
    """Ship one variant: the experiment ends (completed, if it was running or paused) and every flag rule
    that served it in its environment serves that variant's variation from then on, to exactly the users
    it matched; the decision is kept on the experiment (``shipped``). One transaction: a rule with no
    variation for the variant (422) or a flag the actor may not change (403) leaves everything as it
    was. Rules in other environments are left alone: an experiment assigns units in its environment
    only, so they never served it. Audited ``experiment.shipped`` (and ``flag.experiment_shipped`` per
    flag), emitted as the domain event ``experiment.shipped``."""
    exp = await _load_for_write(session, actor, ref)
    status = Status(exp.status)
    if exp.shipped:
        raise Conflict(
            f"experiment '{exp.key}' already shipped variant '{exp.shipped.get('variant')}'",
            details={"shipped": exp.shipped},
        )
    if status not in SHIPPABLE:
        raise Conflict(
            f"only a running, paused or completed experiment can ship a variant (this one is {status})",
            details={"status": str(status)},
        )
    keys = [str(v.get("key")) for v in exp.variants]
    if variant not in keys:
        raise ValidationFailed(
            "no such variant", [{"path": "variant", "message": f"must be one of {', '.join(keys)}"}]
        )
    if status is not Status.COMPLETED:
        record_transition(session, actor, exp, "complete", Status.COMPLETED, reason)
    flags = await flag_service.ship_experiment(
        session, cache, actor, exp.key, exp.environment, variant, reason
    )
    before = snapshot(exp)
    moment = now()
    exp.shipped = {
        "variant": variant,
        "at": iso(moment),
        "by": actor.label,
        "reason": reason,
        "flags": flags,
    }
    exp.version += 1
    exp.updated_at = moment
    await session.flush()
    audit.record(
        session,
        actor,
        "experiment.shipped",
        "experiment",
        exp.id,
        before=before,
        after=snapshot(exp),
        reason=reason,
    )
    data = _event_data(exp, actor, reason, before) | {"variant": variant, "flags": flags, "at": iso(moment)}
    emit(session, "experiment.shipped", "experiment", exp.id, data)
    cache.invalidate_on_commit(session, NAMESPACE)
    return exp


def record_transition(
    session: AsyncSession, actor: Actor, exp: Experiment, action: str, target: Status, reason: str | None
) -> None:
    """Move ``exp`` to ``target`` (already checked to be allowed), audited with who and why and emitted
    as a domain event; the caller invalidates the cache."""
    before = snapshot(exp)
    apply_status(exp, target)
    # who paused it and why, while it stays paused: the console tells a guardrail's pause from a person's
    exp.pause = (
        {
            "at": iso(exp.updated_at),
            "by": actor.label,
            "automatic": actor.kind is ActorKind.SYSTEM,
            "reason": reason,
        }
        if target is Status.PAUSED
        else None
    )
    audit.record(
        session,
        actor,
        f"experiment.{action}",
        "experiment",
        exp.id,
        before=before,
        after=snapshot(exp),
        reason=reason,
    )
    emit_status_event(session, exp, action, reason, actor, before)


def apply_status(exp: Experiment, target: Status) -> None:
    moment = now()
    if target is Status.RUNNING and exp.started_at is None:
        exp.started_at = moment
    if target is Status.COMPLETED:
        exp.ended_at = moment
    exp.status = target
    exp.version += 1
    exp.updated_at = moment


_EVENTS = {
    "start": "experiment.started",
    "pause": "experiment.paused",
    "resume": "experiment.resumed",
    "complete": "experiment.completed",
    "archive": "experiment.archived",
    "schedule": "experiment.scheduled",
    "unschedule": "experiment.unscheduled",
}


def emit_status_event(
    session: AsyncSession,
    exp: Experiment,
    action: str,
    reason: str | None,
    actor: Actor,
    before: dict[str, Any] | None = None,
) -> None:
    emit(session, _EVENTS[action], "experiment", exp.id, _event_data(exp, actor, reason, before))


def _event_data(
    exp: Experiment, actor: Actor, reason: str | None, before: dict[str, Any] | None
) -> dict[str, Any]:
    """What every experiment event carries (docs/webhooks.md): the key, status, who, why, when, the
    audit record's field-level diff and the console page."""
    return {
        "key": exp.key,
        "status": exp.status,
        "reason": reason,
        "at": iso(now()),
        "actor": actor_summary(actor),
        "diff": diff(jsonable(before), jsonable(snapshot(exp))) if before else {},
        "console_path": f"/experiments/{exp.key}",
    }


async def list_experiments(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None,
    owner: str | None,
    tag: str | None,
    text: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Experiment], int]:
    require(actor, Permission.EXPERIMENTS_READ)
    rows, total = await repository.list_experiments(
        session, status=status, owner=owner, text=text, sort=sort, limit=limit, offset=offset, tag=tag
    )
    return list(rows), total


async def create_layer(session: AsyncSession, actor: Actor, body: LayerCreate) -> LayerRead:
    require(actor, Permission.EXPERIMENTS_WRITE)
    if await repository.get_layer(session, body.key) is not None:
        raise Conflict(f"layer '{body.key}' exists", details={"key": body.key})
    layer = Layer(**body.model_dump(), salt=body.key, created_at=now())
    session.add(layer)
    await session.flush()
    # the allocations are the members' ranges, not the layer's own state
    after = audit.snapshot(LayerRead, layer, volatile=("id", "created_at", "allocations", "free_buckets"))
    audit.record(session, actor, "layer.created", "layer", layer.key, after=after)
    return await layer_read(session, layer)


async def layer_read(session: AsyncSession, layer: Layer) -> LayerRead:
    members = await repository.layer_members(session, layer.key)
    allocations = [
        {
            "experiment": m.key,
            "status": m.status,
            "range_start": m.layer_range_start,
            "range_end": m.layer_range_end,
        }
        for m in members
    ]
    used = sum((m.layer_range_end or 0) - (m.layer_range_start or 0) for m in members)
    return LayerRead.model_validate(layer).model_copy(
        update={"allocations": allocations, "free_buckets": LAYER_BUCKETS - used}
    )


async def list_layers(session: AsyncSession, actor: Actor) -> list[LayerRead]:
    require(actor, Permission.EXPERIMENTS_READ)
    return [await layer_read(session, layer) for layer in await repository.all_layers(session)]


async def assignment_history(session: AsyncSession, actor: Actor, unit_id: str) -> list[dict[str, str]]:
    """A unit's assignments across experiments: people with read access see every environment, an API
    key (``evaluate``) only its own."""
    if Permission.EVALUATE not in permissions_for(actor):
        require(actor, Permission.EXPERIMENTS_READ)
    rows = await repository.unit_history(session, unit_id, environment=actor.environment_key)
    return [
        {"experiment_key": k, "variant": v, "environment": e, "assigned_at": iso(t)} for k, v, e, t in rows
    ]
