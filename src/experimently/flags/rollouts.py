"""Gradual rollout schedules (5% -> 25% -> 50% -> 100% at set times) and the stale-flag report.

The job ``flags.apply_rollouts`` runs under a lease. For each active schedule it applies every due step
in order (each audited as the system actor), so it is idempotent when run twice and catches up when run
late: a schedule remembers the index of its next step. A :class:`Hold` (given by the safety domain for
guarded rollouts) may keep a due step waiting: the schedule then stays where it is until a later run."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor
from experimently.cache import Cache
from experimently.db import Database
from experimently.errors import Conflict, NotFound, ValidationFailed
from experimently.flags import repository
from experimently.flags.documents import default_environment
from experimently.flags.handoff import ExperimentHandoff
from experimently.flags.models import Flag, RolloutSchedule
from experimently.flags.schemas import RolloutScheduleCreate, RolloutScheduleRead, ShippedFrom, StaleFlag
from experimently.flags.service import _commit_change, _load_for_write, snapshot
from experimently.kit.clock import ensure_utc, iso, now
from experimently.rbac import Permission, require, require_environment
from experimently.safety import repository as safety_repository


def rollout_serve(variation: str, other: str, percentage: float) -> dict[str, Any]:
    if percentage >= 100:
        return {"variation": variation}
    weight = round(percentage, 2)
    return {
        "rollout": {
            "variations": [
                {"variation": variation, "weight": weight},
                {"variation": other, "weight": round(100 - weight, 2)},
            ]
        }
    }


def schedule_snapshot(schedule: RolloutSchedule) -> dict[str, Any]:
    """The schedule in an audit record's ``before`` / ``after``, as the API shows it; the id stays (the
    record's resource is the flag)."""
    return audit.snapshot(RolloutScheduleRead, schedule, volatile=("created_at", "rollout_id"))


def _other_variation(flag: Flag, env: str, variation: str) -> str:
    config = flag.environments.get(env) or default_environment(flag.variations)
    off = str(config.get("off_variation"))
    if off != variation:
        return off
    return next(str(v["key"]) for v in flag.variations if v["key"] != variation)


def fallthrough_problems(flag: Flag, environment: str, variation: str) -> list[dict[str, str]]:
    """Why the environment's fallthrough cannot be rolled from its old variation to ``variation`` (a
    schedule's or a guarded rollout's steps; checked while the flag is on there, when the fallthrough
    is what people get).

    The rollout replaces the fallthrough with ``variation`` for its percentage and the old variation
    (the off variation, or another one when the off variation is the one rolled out) for the rest. The
    fallthrough must therefore serve something else than ``variation`` alone (else the rest would move
    to the old variation: a rollout backwards), and nothing but those two (a third variation's units
    would move to a variation they never had). A split of the two (a schedule stopped half-way) is
    replaced by the rollout's own at its first step; a hand-off to an experiment is not looked into."""
    fallthrough = (flag.environments.get(environment) or {}).get("fallthrough") or {}
    if "variation" in fallthrough:
        served = [str(fallthrough["variation"])]
    elif "rollout" in fallthrough:
        split = (fallthrough.get("rollout") or {}).get("variations") or []
        served = [str(v["variation"]) for v in split if float(v.get("weight", 0)) > 0]
    else:
        return []
    if set(served) == {variation}:
        message = (
            f"the flag already serves '{variation}' to everyone it falls through to in {environment}: "
            "nothing to roll out"
        )
        return [{"path": "variation", "message": message}]
    old = _other_variation(flag, environment, variation)
    others = sorted(set(served) - {variation, old})
    if others:
        named = ", ".join(f"'{v}'" for v in others)
        message = (
            f"the fallthrough in {environment} serves {named}: a rollout moves units from the "
            f"old variation '{old}' to '{variation}', so those units would change to '{old}' (serve "
            f"'{old}' first)"
        )
        return [{"path": "variation", "message": message}]
    return []


async def create_schedule(
    session: AsyncSession, actor: Actor, key: str, body: RolloutScheduleCreate
) -> RolloutScheduleRead:
    require_environment(actor, body.environment)
    flag = await _load_for_write(session, actor, key)
    keys = [v["key"] for v in flag.variations]
    errors = []
    if body.variation not in keys:
        errors.append({"path": "variation", "message": f"unknown variation; known: {keys}"})
    if len(keys) < 2:
        errors.append({"path": "variation", "message": "a rollout needs at least two variations"})
    if body.environment not in flag.environments:
        errors.append({"path": "environment", "message": "no such environment on this flag"})
    elif body.variation in keys and flag.environments[body.environment].get("enabled"):
        errors.extend(fallthrough_problems(flag, body.environment, body.variation))
    if errors:
        raise ValidationFailed("rollout schedule failed validation", errors)
    guarded = await safety_repository.rollout_under_way_id(session, flag.id, body.environment)
    if guarded is not None:  # the schedule and the guarded rollout would each set the percentage
        raise Conflict(
            f"a guarded rollout of this flag is already under way in {body.environment}: cancel it first",
            details={"rollout_id": guarded},
        )
    under_way = [
        s.id
        for s in await repository.schedules_for(session, flag.id)
        if s.environment == body.environment and s.status in ("active", "paused")
    ]
    if under_way:  # two schedules would each set the percentage, in turn
        raise Conflict(
            f"a rollout schedule of this flag is already under way in {body.environment}: cancel it first",
            details={"schedule_id": under_way[0]},
        )
    steps = [{"at": iso(ensure_utc(s.at)), "percentage": s.percentage} for s in body.steps]
    schedule = RolloutSchedule(
        flag_id=flag.id,
        environment=body.environment,
        variation=body.variation,
        steps=steps,
        next_step=0,
        status="active",
        created_by=actor.owner,
        created_at=now(),
    )
    session.add(schedule)
    await session.flush()
    audit.record(
        session,
        actor,
        "flag.rollout_scheduled",
        "flag",
        flag.key,
        after=schedule_snapshot(schedule),
    )
    return RolloutScheduleRead.model_validate(schedule)


async def list_schedules(session: AsyncSession, actor: Actor, key: str) -> list[RolloutScheduleRead]:
    require(actor, Permission.FLAGS_READ)
    flag = await repository.get_flag(session, key)
    if flag is None:
        raise NotFound("flag", key)
    owners = await safety_repository.rollouts_by_schedule(session, flag.id)
    return [_read(s, owners) for s in await repository.schedules_for(session, flag.id)]


def _read(schedule: RolloutSchedule, owners: dict[str, str]) -> RolloutScheduleRead:
    """The schedule as the API shows it, with the guarded rollout that owns it (``owners``: see
    ``safety.repository.rollouts_by_schedule``)."""
    read = RolloutScheduleRead.model_validate(schedule)
    return read.model_copy(update={"rollout_id": owners.get(schedule.id)})


async def cancel_schedule(
    session: AsyncSession, actor: Actor, key: str, schedule_id: str
) -> RolloutScheduleRead:
    flag = await _load_for_write(session, actor, key, archived_ok=True)
    schedule = next(
        (s for s in await repository.schedules_for(session, flag.id) if s.id == schedule_id), None
    )
    if schedule is None:
        raise NotFound("rollout_schedule", schedule_id)
    require_environment(actor, schedule.environment)
    owner = await safety_repository.rollout_of_schedule(session, schedule.id)
    if owner is not None:  # cancelled alone, it would leave the rollout waiting for a step never applied
        raise Conflict(
            f"rollout schedule {schedule.id} belongs to guarded rollout {owner}: cancel the guarded rollout",
            details={"rollout_id": owner},
        )
    if schedule.status == "active":
        before = schedule_snapshot(schedule)
        schedule.status = "cancelled"
        audit.record(
            session,
            actor,
            "flag.rollout_cancelled",
            "flag",
            flag.key,
            before=before,
            after=schedule_snapshot(schedule),
        )
    return _read(schedule, await safety_repository.rollouts_by_schedule(session, flag.id))


# (session, schedule, when its next step was due) -> True to keep that step waiting; it may also pause
# the schedule (status "paused")
Hold = Callable[[AsyncSession, RolloutSchedule, datetime], Awaitable[bool]]


async def apply_due_steps(session: AsyncSession, cache: Cache, hold: Hold | None = None) -> int:
    """Apply every due step of every active schedule (unless ``hold`` keeps it waiting); returns how
    many steps were applied."""
    applied = 0
    moment = now()
    for schedule in await repository.active_schedules(session):
        flag = await repository.get_flag_by_id(session, schedule.flag_id)
        if flag is None or flag.archived:  # archived before archiving refused a schedule under way
            before = schedule_snapshot(schedule)
            schedule.status = "cancelled"
            if flag is not None:
                audit.record(
                    session,
                    SYSTEM,
                    "flag.rollout_cancelled",
                    "flag",
                    flag.key,
                    before=before,
                    after=schedule_snapshot(schedule),
                    reason=f"flag '{flag.key}' is archived",
                )
            continue
        while schedule.next_step < len(schedule.steps):
            step = schedule.steps[schedule.next_step]
            due = ensure_utc(_parse(step["at"]))
            if due > moment:
                break
            if hold is not None and await hold(session, schedule, due):
                break
            await _apply_step(session, cache, flag, schedule, float(step["percentage"]))
            schedule.next_step += 1
            applied += 1
        if schedule.next_step >= len(schedule.steps):
            schedule.status = "completed"
    return applied


async def _apply_step(
    session: AsyncSession, cache: Cache, flag: Flag, schedule: RolloutSchedule, percentage: float
) -> None:
    before = snapshot(flag)
    merged = copy.deepcopy(flag.environments)
    env = merged.setdefault(schedule.environment, default_environment(flag.variations))
    other = _other_variation(flag, schedule.environment, schedule.variation)
    env["fallthrough"] = rollout_serve(schedule.variation, other, percentage)
    flag.environments = merged
    steps = copy.deepcopy(schedule.steps)  # when it was applied: a guarded rollout's step starts then
    steps[schedule.next_step]["applied_at"] = iso(now())
    schedule.steps = steps
    reason = (
        f"rollout schedule {schedule.id} step {schedule.next_step + 1}/{len(schedule.steps)}: {percentage}%"
    )
    await _commit_change(session, cache, SYSTEM, flag, before, "flag.rollout_step_applied", reason)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def run_rollout_job(db: Database, cache: Cache, hold: Hold | None = None) -> int:
    async with db.transaction() as session:
        return await apply_due_steps(session, cache, hold)


def serving(config: dict[str, Any]) -> str | None:
    """The one variation an environment serves to everyone, or None when it varies by context."""
    if not config.get("enabled"):
        return str(config.get("off_variation"))
    if config.get("targets") or config.get("rules") or config.get("prerequisites"):
        return None
    fallthrough = config.get("fallthrough") or {}
    if "variation" in fallthrough:
        return str(fallthrough["variation"])
    rollout = (fallthrough.get("rollout") or {}).get("variations", [])
    full = [v["variation"] for v in rollout if float(v.get("weight", 0)) >= 100]
    return str(full[0]) if full else None


async def stale_report(
    session: AsyncSession, actor: Actor, days: int, experiments: ExperimentHandoff | None
) -> list[StaleFlag]:
    """Flags unchanged for ``days`` that are candidates for removal from the code: those serving a
    single variation to everyone in every environment (``rolled_out``), and those whose last change
    shipped an experiment's variant (``shipped``: the experiment's decision is made and nobody has
    touched the flag since, so it waits to be rolled out to everyone or removed; known through the
    experiments hand-off, without which only the first kind is reported)."""
    require(actor, Permission.FLAGS_READ)
    moment = now()
    ships = await experiments.shipped_flags(session) if experiments is not None else {}
    report = []
    for flag in await repository.stale_candidates(session, moment - timedelta(days=days)):
        served = {env: serving(config) for env, config in flag.environments.items()}
        rolled_out = bool(served) and None not in served.values() and len(set(served.values())) == 1
        ship = ships.get((flag.key, flag.version))
        if rolled_out or ship is not None:
            report.append(
                StaleFlag(
                    key=flag.key,
                    name=flag.name,
                    owner_id=flag.owner_id,
                    updated_at=flag.updated_at,
                    days_unchanged=(moment - flag.updated_at).days,
                    serving=served,
                    reason="rolled_out" if rolled_out else "shipped",
                    shipped=ShippedFrom.model_validate(ship) if ship is not None else None,
                )
            )
    return report
