"""Guarded rollouts: a flag rollout in one environment watched by guardrail metrics.

A guarded rollout is **scheduled** (a rollout schedule moves the percentage at set times) or **manual**
(a percentage now, raised through the API). Each step is one comparison: from the moment the step was
applied, the units served the new variation (``flag_exposure`` events, recorded server-side for guarded
flags, see ``flags.exposures``) against the units still served the old one, aggregated like an
experiment (``metrics.aggregation``, key ``rollout:<id>``) and judged by ``safety.decision`` right
after each aggregation run that touched it (``safety.rollout_monitor``).

On a breach, by the rollout's action:

- ``rollback``: the environment's fallthrough returns to what it served before the rollout, as a new
  flag version by the system actor (audited ``flag.rolled_back`` with the reason: metric, lift,
  interval, p); the schedule stops; ``flag.rolled_back`` goes to the webhooks;
- ``pause``: the schedule is held (no further step) and the flag stays where it is;
- ``notify``: only ``flag.guardrail_breached`` (sent for every action).

A rollout whose percentage reaches 100% without a breach is **released**.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor
from experimently.cache import Cache
from experimently.config import Settings
from experimently.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from experimently.flags import repository as flag_repository
from experimently.flags.documents import default_environment
from experimently.flags.models import Flag, RolloutSchedule
from experimently.flags.rollouts import _other_variation, create_schedule, fallthrough_problems, rollout_serve
from experimently.flags.schemas import RolloutScheduleCreate
from experimently.flags.service import (
    RULESET_NAMESPACE,
    _commit_change,
    _load_for_write,
    console_path,
    snapshot,
)
from experimently.kit.clock import ensure_utc, now
from experimently.metrics.aggregation import ExperimentSpec
from experimently.rbac import Permission, require, require_environment
from experimently.safety import repository
from experimently.safety.models import GuardedRollout
from experimently.safety.schemas import (
    GuardedRolloutAdvance,
    GuardedRolloutCreate,
    GuardedRolloutRead,
    GuardedRolloutStep,
)
from experimently.safety.settings import check_metrics, resolve
from experimently.webhooks.announce import announce

log = structlog.get_logger(__name__)
ACTIONS = Counter(
    "experimently_rollout_guard_actions_total",
    "Guarded rollout outcomes (rolled_back, paused, notified, released, held)",
    ["action"],
)
PREFIX = "rollout:"
HISTORY = 500  # points kept per rollout (older ones are dropped)


def read(rollout: GuardedRollout) -> GuardedRolloutRead:
    return GuardedRolloutRead.model_validate(rollout)


def rollout_snapshot(rollout: GuardedRollout) -> dict[str, Any]:
    """The rollout in an audit record's ``before`` / ``after``: as the API shows it, minus the monitor's
    working data (its chart and last check). The id stays: the record's resource is the flag."""
    return audit.snapshot(GuardedRolloutRead, rollout, volatile=("created_at", "history", "last_check"))


def _time(value: str) -> datetime:
    return ensure_utc(datetime.fromisoformat(value))


async def present(session: AsyncSession, rollout: GuardedRollout) -> GuardedRolloutRead:
    """The API resource: the rollout with its schedule's steps, when the next one is planned and whether
    it is held for traffic (what a console page shows as its progress)."""
    schedule = await _schedule(session, rollout)
    extra: dict[str, object] = {}
    if rollout.status == "running" and rollout.waiting_since is not None:
        extra["hold"] = "waiting_for_traffic"
    if schedule is not None:
        steps = [
            GuardedRolloutStep(
                at=_time(s["at"]),
                percentage=float(s["percentage"]),
                applied_at=_time(s["applied_at"]) if s.get("applied_at") else None,
            )
            for s in schedule.steps
        ]
        extra["steps"] = steps
        if rollout.status == "running" and schedule.next_step < len(steps):
            extra["next_step_at"] = steps[schedule.next_step].at
    return read(rollout).model_copy(update=extra)


def spec_key(rollout_id: str) -> str:
    return f"{PREFIX}{rollout_id}"


async def _schedule(session: AsyncSession, rollout: GuardedRollout) -> RolloutSchedule | None:
    if rollout.schedule_id is None:
        return None
    return await session.get(RolloutSchedule, rollout.schedule_id)


def _applied(schedule: RolloutSchedule) -> tuple[int, float, datetime | None]:
    """(steps applied, the current percentage, when the current step was applied) of a schedule."""
    if schedule.next_step == 0:
        return 0, 0.0, None
    step = schedule.steps[schedule.next_step - 1]
    at = step.get("applied_at") or step["at"]
    return schedule.next_step, float(step["percentage"]), ensure_utc(datetime.fromisoformat(at))


def _comparison_steps(rollout: GuardedRollout, schedule: RolloutSchedule | None) -> int | None:
    if schedule is None:
        return None
    return max(1, sum(1 for s in schedule.steps if float(s["percentage"]) < 100))


async def _sync(session: AsyncSession, rollout: GuardedRollout) -> RolloutSchedule | None:
    """Bring a scheduled rollout's step, percentage and step start up to its schedule."""
    schedule = await _schedule(session, rollout)
    if schedule is not None:
        step, percentage, started = _applied(schedule)
        if step != rollout.step:
            rollout.step, rollout.percentage, rollout.step_started_at = step, percentage, started
    return schedule


# --- API ---------------------------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    cache: Cache,
    settings: Settings,
    actor: Actor,
    key: str,
    body: GuardedRolloutCreate,
) -> GuardedRollout:
    require_environment(actor, body.environment)
    flag = await _load_for_write(session, actor, key)
    keys = [str(v["key"]) for v in flag.variations]
    errors = []
    if body.variation not in keys:
        errors.append({"path": "variation", "message": f"unknown variation; known: {keys}"})
    if body.environment not in flag.environments:
        errors.append({"path": "environment", "message": "no such environment on this flag"})
    elif not flag.environments[body.environment].get("enabled"):
        errors.append({"path": "environment", "message": "the flag is off here: turn it on first"})
    elif body.variation in keys:
        errors.extend(fallthrough_problems(flag, body.environment, body.variation))
    if errors:
        raise ValidationFailed("guarded rollout failed validation", errors)
    if (other := await repository.rollout_under_way_id(session, flag.id, body.environment)) is not None:
        raise Conflict(
            "a guarded rollout of this flag is already under way here", details={"rollout_id": other}
        )
    schedules = [
        s.id
        for s in await flag_repository.schedules_for(session, flag.id)
        if s.environment == body.environment and s.status in ("active", "paused")
    ]
    if schedules:  # the schedule and the rollout would each set the percentage, in turn
        raise Conflict(
            f"a rollout schedule of this flag is already under way in {body.environment}: cancel it first",
            details={"schedule_id": schedules[0]},
        )
    await check_metrics(session, body)
    guard = await resolve(session, settings, body.environment, key, body)
    if not guard.guardrail_metrics:
        raise ValidationFailed(
            "a guarded rollout needs guardrail metrics",
            [{"path": "guardrail_metrics", "message": "name some, or set them in the safety settings"}],
        )
    control = _other_variation(flag, body.environment, body.variation)
    pre = flag.environments.get(body.environment) or default_environment(flag.variations)
    rollout = GuardedRollout(
        flag_id=flag.id,
        flag_key=flag.key,
        environment=body.environment,
        variation=body.variation,
        control=control,
        percentage=0.0,
        step=0,
        guardrail_metrics=guard.guardrail_metrics,
        success_metric=guard.success_metric,
        min_units=guard.min_units,
        alpha=guard.alpha,
        action=guard.action,
        max_wait_seconds=guard.max_wait_seconds,
        status="running",
        pre_state=copy.deepcopy(pre),
        breaches=[],
        history=[],
        created_by=actor.owner,
        created_at=now(),
    )
    if body.steps is not None:
        schedule = await create_schedule(
            session,
            actor,
            key,
            RolloutScheduleCreate(environment=body.environment, variation=body.variation, steps=body.steps),
        )
        rollout.schedule_id = schedule.id
    session.add(rollout)
    await session.flush()
    after = read(rollout).model_dump(mode="json")
    audit.record(
        session, actor, "flag.guarded_rollout_started", "flag", flag.key, after=rollout_snapshot(rollout)
    )
    announce(
        session,
        "flag.rollout_started",
        actor,
        "flag",
        flag.key,
        after=after,
        path=console_path(flag.key),
        extra={"rollout_id": rollout.id, "environment": rollout.environment},
    )
    if body.percentage is not None:
        await _set_percentage(session, cache, actor, flag, rollout, body.percentage)
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return rollout


async def _set_percentage(
    session: AsyncSession, cache: Cache, actor: Actor, flag: Flag, rollout: GuardedRollout, percentage: float
) -> None:
    before = snapshot(flag)
    merged = copy.deepcopy(flag.environments)
    env = merged.setdefault(rollout.environment, default_environment(flag.variations))
    env["fallthrough"] = rollout_serve(rollout.variation, rollout.control, percentage)
    flag.environments = merged
    rollout.step += 1
    rollout.percentage = percentage
    rollout.step_started_at = now()
    reason = f"guarded rollout {rollout.id} step {rollout.step}: {percentage}%"
    await _commit_change(session, cache, actor, flag, before, "flag.rollout_step_applied", reason)
    if percentage >= 100:
        _release(session, rollout)


async def _get(session: AsyncSession, key: str, rollout_id: str, *, lock: bool = False) -> GuardedRollout:
    found = await repository.rollout_of_flag(session, key, rollout_id, lock=lock)
    if found is None:
        raise NotFound("guarded_rollout", rollout_id)
    return found


async def get(session: AsyncSession, actor: Actor, key: str, rollout_id: str) -> GuardedRollout:
    require(actor, Permission.FLAGS_READ)
    rollout = await _get(session, key, rollout_id)
    await _sync(session, rollout)
    return rollout


async def list_for(session: AsyncSession, actor: Actor, key: str) -> list[GuardedRollout]:
    require(actor, Permission.FLAGS_READ)
    if await flag_repository.get_flag(session, key) is None:
        raise NotFound("flag", key)
    out = list(await repository.rollouts_of_flag(session, key))
    for rollout in out:
        await _sync(session, rollout)
    return out


async def advance(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, rollout_id: str, body: GuardedRolloutAdvance
) -> GuardedRollout:
    """Raise a manual rollout's percentage: a new step, compared afresh."""
    flag = await _load_for_write(session, actor, key)
    rollout = await _get(session, key, rollout_id, lock=True)
    require_environment(actor, rollout.environment)
    if rollout.schedule_id is not None:
        raise InvalidTransition(
            "a scheduled rollout moves by its schedule", details={"rollout_id": rollout.id}
        )
    if rollout.status != "running":
        raise InvalidTransition(f"the rollout is {rollout.status}", details={"status": rollout.status})
    if body.percentage <= rollout.percentage:
        raise ValidationFailed(
            "a rollout only moves forward",
            [{"path": "percentage", "message": f"must be above the current {rollout.percentage}%"}],
        )
    await _set_percentage(session, cache, actor, flag, rollout, body.percentage)
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return rollout


async def cancel(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, rollout_id: str
) -> GuardedRollout:
    """Stop watching (and stop the schedule); the flag stays where it is. Also on an archived flag: a
    rollout left under way by an archive (refused since, see ``flags.service.archive``) can end."""
    flag = await _load_for_write(session, actor, key, archived_ok=True)
    rollout = await _get(session, key, rollout_id, lock=True)
    require_environment(actor, rollout.environment)
    if rollout.status not in ("running", "paused"):
        raise InvalidTransition(f"the rollout is {rollout.status}", details={"status": rollout.status})
    schedule = await _sync(session, rollout)
    if schedule is not None and schedule.status in ("active", "paused"):
        schedule.status = "cancelled"
    before = {"status": rollout.status}
    audited = rollout_snapshot(rollout)
    _end(rollout, "cancelled", f"cancelled by {actor.label}")
    audit.record(
        session,
        actor,
        "flag.guarded_rollout_cancelled",
        "flag",
        flag.key,
        before=audited,
        after=rollout_snapshot(rollout),
    )
    announce(
        session,
        "flag.rollout_cancelled",
        actor,
        "flag",
        flag.key,
        before=before,
        after={"status": "cancelled"},
        path=console_path(flag.key),
        extra={"rollout_id": rollout.id, "environment": rollout.environment},
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return rollout


async def resume(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, rollout_id: str
) -> GuardedRollout:
    """A person resumes a paused rollout: the schedule goes on and the monitor keeps watching. It
    acknowledges the breach: the same breach in the same step is not acted on again."""
    flag = await _load_for_write(session, actor, key)
    rollout = await _get(session, key, rollout_id, lock=True)
    require_environment(actor, rollout.environment)
    if rollout.status != "paused":
        raise InvalidTransition(f"the rollout is {rollout.status}", details={"status": rollout.status})
    before = rollout_snapshot(rollout)
    schedule = await _schedule(session, rollout)
    if schedule is not None and schedule.status == "paused":
        schedule.status = "active"
    rollout.status, rollout.outcome = "running", None
    if rollout.waiting_since is not None:
        rollout.waiting_since = now()  # held for traffic: the wait starts again
    audit.record(
        session,
        actor,
        "flag.guarded_rollout_resumed",
        "flag",
        flag.key,
        before=before,
        after=rollout_snapshot(rollout),
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return rollout


# --- what the evaluation and the aggregation need --------------------------------------------------


async def guarded_markers(session: AsyncSession, environment: str) -> dict[str, str]:
    """flag key -> ``<rollout id>.<step>`` of every rollout being compared in ``environment`` (the
    exposures to record; the step in the marker starts each step's deduplication afresh)."""
    out: dict[str, str] = {}
    for rollout in await repository.running_rollouts(session, environment):
        await _sync(session, rollout)
        if rollout.step > 0 and rollout.percentage < 100 and await _serving(session, rollout):
            out[rollout.flag_key] = f"{rollout.id}.{rollout.step}"
    return out


async def _serving(session: AsyncSession, rollout: GuardedRollout) -> bool:
    """Whether the flag is on in the rollout's environment (killed: everyone gets the off variation,
    nothing to compare, no exposures recorded, no decision)."""
    flag = await flag_repository.get_flag_by_id(session, rollout.flag_id)
    return flag is not None and bool((flag.environments.get(rollout.environment) or {}).get("enabled"))


async def rollout_metric_usage(session: AsyncSession, key: str) -> list[dict[str, str]]:
    """Guarded rollouts (running or paused) watching metric ``key``: role ``rollout_guardrail``, or
    ``rollout_success`` for the success metric."""
    out: list[dict[str, str]] = []
    for rollout in await repository.rollouts_under_way(session):
        roles = [("rollout_guardrail", key in rollout.guardrail_metrics)]
        roles.append(("rollout_success", key == rollout.success_metric))
        out.extend(
            {
                "experiment_key": spec_key(rollout.id),
                "experiment_name": f"guarded rollout of {rollout.flag_key} in {rollout.environment}",
                "status": rollout.status,
                "role": role,
                "flag_key": rollout.flag_key,
            }
            for role, used in roles
            if used
        )
    return out


async def rollout_metric_users(session: AsyncSession, key: str) -> list[dict[str, str]]:
    """What keeps metric ``key`` from being deleted in the safety domain: guarded rollouts under way
    (running or paused) watching it, and safety settings naming it (the rollouts started later would
    take it from them, and watch a metric that no longer exists)."""
    out = [
        {
            "type": "guarded_rollout",
            "key": rollout.id,
            "flag_key": rollout.flag_key,
            "environment": rollout.environment,
            "status": rollout.status,
        }
        for rollout in await repository.rollouts_under_way(session)
        if key in rollout.guardrail_metrics or key == rollout.success_metric
    ]
    out.extend(
        {
            "type": "safety_settings",
            "key": f"{row.environment}/{row.flag_key}" if row.flag_key else row.environment,
        }
        for row in await repository.settings_naming(session, key)
    )
    return out


async def aggregation_specs(session: AsyncSession) -> list[ExperimentSpec]:
    """One aggregation per running rollout step: its exposures since the step was applied."""
    specs = []
    for rollout in await repository.running_rollouts(session):
        await _sync(session, rollout)
        if rollout.step_started_at is None or rollout.percentage >= 100:
            continue
        metrics = [str(k) for k in rollout.guardrail_metrics]
        if rollout.success_metric and rollout.success_metric not in metrics:
            metrics.append(rollout.success_metric)
        specs.append(
            ExperimentSpec(
                key=spec_key(rollout.id),
                variants=(rollout.control, rollout.variation),
                metric_keys=tuple(metrics),
                started_at=rollout.step_started_at,
                exposure_event="flag_exposure",
                subject=rollout.flag_key,
                environment=rollout.environment,
                prefer=rollout.variation,
            )
        )
    return specs


def _end(rollout: GuardedRollout, status: str, outcome: str) -> None:
    rollout.status, rollout.outcome, rollout.ended_at = status, outcome[:2000], now()


def _release(session: AsyncSession, rollout: GuardedRollout) -> None:
    before = rollout_snapshot(rollout)
    _end(rollout, "released", f"released: {rollout.variation} at 100% without a guardrail breach")
    summary = {"rollout_id": rollout.id, "environment": rollout.environment, "variation": rollout.variation}
    audit.record(
        session,
        SYSTEM,
        "flag.rollout_released",
        "flag",
        rollout.flag_key,
        before=before,
        after=rollout_snapshot(rollout),
    )
    announce(
        session,
        "flag.rollout_released",
        SYSTEM,
        "flag",
        rollout.flag_key,
        before={"status": "running"},
        after={"status": "released"},
        path=console_path(rollout.flag_key),
        extra=summary,
    )
    ACTIONS.labels("released").inc()
