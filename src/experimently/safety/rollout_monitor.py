"""The guarded rollout monitor: right after each aggregation run, the decision on every running
rollout step that moved (``safety.decision``), and the action it calls for (``safety.rollouts``
describes the actions)."""

from __future__ import annotations

import copy
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM
from experimently.analysis.schemas import ANALYSED_AS
from experimently.cache import Cache
from experimently.db import Database
from experimently.flags import repository as flag_repository
from experimently.flags.documents import default_environment
from experimently.flags.models import RolloutSchedule
from experimently.flags.service import _commit_change, console_path, snapshot
from experimently.kit.clock import iso, now
from experimently.metrics import repository as metric_repository
from experimently.metrics.aggregation import ExperimentStats, load_snapshot
from experimently.metrics.models import AggregationState
from experimently.safety import repository
from experimently.safety.decision import Check, MetricInput, decide, step_alpha
from experimently.safety.models import GuardedRollout
from experimently.safety.rollouts import (
    ACTIONS,
    HISTORY,
    _comparison_steps,
    _end,
    _release,
    _schedule,
    _serving,
    _sync,
    spec_key,
)
from experimently.webhooks.announce import announce

log = structlog.get_logger(__name__)


async def check_rollouts(db: Database, cache: Cache, keys: set[str] | None = None) -> int:
    """Check running rollouts (those whose aggregation is in ``keys``, or all); returns actions taken."""
    async with db.transaction() as session:
        ids = await repository.running_rollout_ids(session)
    acted = 0
    for rollout_id in ids:
        if keys is not None and spec_key(rollout_id) not in keys:
            continue
        async with db.transaction() as session:
            rollout = await session.get(GuardedRollout, rollout_id, with_for_update=True)
            if rollout is not None and rollout.status == "running":
                acted += await _check(session, cache, rollout)
    return acted


async def release_completed(db: Database) -> int:
    """Mark released every running scheduled rollout whose schedule reached 100%."""
    released = 0
    async with db.transaction() as session:
        for rollout in await repository.running_rollouts(session):
            await _sync(session, rollout)
            if rollout.percentage >= 100:
                _release(session, rollout)
                released += 1
    return released


async def _inputs(
    session: AsyncSession, rollout: GuardedRollout, stats: ExperimentStats
) -> tuple[list[MetricInput], MetricInput | None]:
    keys = [str(k) for k in rollout.guardrail_metrics]
    wanted = keys + ([rollout.success_metric] if rollout.success_metric else [])
    definitions = await metric_repository.by_keys(session, wanted)

    def one(key: str) -> MetricInput | None:
        metric = definitions.get(key)
        if metric is None:
            return None
        return MetricInput(
            key, ANALYSED_AS[metric.kind], metric.direction == "lower", stats.metrics.get(key, {})
        )

    guardrails = [m for k in keys if (m := one(k)) is not None]
    return guardrails, one(rollout.success_metric) if rollout.success_metric else None


async def evaluate(session: AsyncSession, rollout: GuardedRollout) -> Check | None:
    """The decision on the statistics of the rollout's current step (None before its first aggregation)."""
    stats = await load_snapshot(session, spec_key(rollout.id))
    if stats is None or rollout.step_started_at is None:
        return None
    state = await session.get(AggregationState, spec_key(rollout.id))
    spec = ((state.snapshot if state is not None else None) or {}).get("spec") or {}
    if spec.get("started_at") != rollout.step_started_at.isoformat():
        return None  # the statistics are still those of an earlier step: the next run recomputes
    schedule = await _schedule(session, rollout)
    guardrails, success = await _inputs(session, rollout, stats)
    previous = rollout.last_check or {}
    srm_min = previous.get("srm_min_p") if previous.get("step") == rollout.step else None
    return decide(
        control=rollout.control,
        treatment=rollout.variation,
        share=rollout.percentage / 100.0,
        units=stats.units,
        guardrails=guardrails,
        success=success,
        alpha=step_alpha(rollout.alpha, _comparison_steps(rollout, schedule), rollout.step - 1),
        min_units=rollout.min_units,
        srm_min_p=srm_min,
    )


async def _check(session: AsyncSession, cache: Cache, rollout: GuardedRollout) -> int:
    schedule = await _sync(session, rollout)
    if rollout.percentage >= 100:
        _release(session, rollout)
        return 1
    stats_state = await load_snapshot(session, spec_key(rollout.id))
    if stats_state is None:
        return 0
    if not await _serving(session, rollout):
        rollout.last_check = {"status": "FLAG_OFF", "step": rollout.step, "checked_at": iso(now())}
        return 0
    check = await evaluate(session, rollout)
    if check is None:
        return 0
    previous = rollout.last_check or {}
    srm_min = min(
        [
            p
            for p in (
                check.srm_p_value,
                previous.get("srm_min_p") if previous.get("step") == rollout.step else None,
            )
            if p is not None
        ],
        default=None,
    )
    rollout.last_check = check.to_json() | {
        "step": rollout.step,
        "percentage": rollout.percentage,
        "srm_min_p": srm_min,
        "checked_at": iso(now()),
        "aggregated_at": iso(stats_state.aggregated_at) if stats_state.aggregated_at else None,
    }
    rollout.history = [*rollout.history, _point(rollout, check)][-HISTORY:]
    if check.status != "BREACH":
        return 0
    known = {(b.get("step"), b.get("kind"), b.get("metric")) for b in rollout.breaches}
    new = [b for b in check.breaches if (rollout.step, b.kind, b.metric) not in known]
    if not new:
        return 0
    reason = "; ".join(b.describe(rollout.variation) for b in new)
    action = {"rollback": "rolled_back", "pause": "paused", "notify": "notified"}[rollout.action]
    rollout.breaches = [
        *rollout.breaches,
        *(
            {
                **b.to_json(),
                "step": rollout.step,
                "action": action,
                "detected_at": iso(now()),
                "reason": b.describe(rollout.variation),
            }
            for b in new
        ),
    ]
    summary = {
        "rollout_id": rollout.id,
        "environment": rollout.environment,
        "variation": rollout.variation,
        "percentage": rollout.percentage,
        "action": action,
        "breaches": [b.to_json() for b in new],
        "units": check.units,
    }
    audit.record(
        session, SYSTEM, "flag.guardrail_breached", "flag", rollout.flag_key, after=summary, reason=reason
    )
    announce(
        session,
        "flag.guardrail_breached",
        SYSTEM,
        "flag",
        rollout.flag_key,
        reason=reason,
        path=console_path(rollout.flag_key),
        extra=summary,
    )
    log.warning("safety.rollout_breached", flag=rollout.flag_key, reason=reason, action=action)
    ACTIONS.labels(action).inc()
    if rollout.action == "rollback":
        await _rollback(session, cache, rollout, schedule, reason, summary)
    elif rollout.action == "pause":
        if schedule is not None and schedule.status == "active":
            schedule.status = "paused"
        rollout.status = "paused"
        rollout.outcome = f"paused: {reason}"
    return 1


async def _rollback(
    session: AsyncSession,
    cache: Cache,
    rollout: GuardedRollout,
    schedule: RolloutSchedule | None,
    reason: str,
    summary: dict[str, Any],
) -> None:
    """The fallthrough back to what it was before the rollout (other changes made meanwhile, a kill
    switch say, are kept), as a new version by the system; the schedule stops."""
    flag = await flag_repository.get_flag(session, rollout.flag_key, for_update=True)
    if schedule is not None and schedule.status in ("active", "paused"):
        schedule.status = "cancelled"
    _end(rollout, "rolled_back", f"rolled back: {reason}")
    if flag is None:
        return
    before = snapshot(flag)
    merged = copy.deepcopy(flag.environments)
    env = merged.setdefault(rollout.environment, default_environment(flag.variations))
    env["fallthrough"] = copy.deepcopy(rollout.pre_state.get("fallthrough", env.get("fallthrough")))
    flag.environments = merged
    await _commit_change(session, cache, SYSTEM, flag, before, "flag.rolled_back", reason)


def _point(rollout: GuardedRollout, check: Check) -> dict[str, Any]:
    """One point of the rollout's chart: where it stood and what each metric showed."""
    metrics = {}
    for key, comparison in check.comparisons.items():
        interval = comparison.get("relative_interval") or {}
        absolute = comparison.get("absolute_interval") or {}
        metrics[key] = {
            "relative_lift": comparison.get("relative_lift"),
            "relative_interval": [interval.get("lower"), interval.get("upper")] if interval else None,
            "absolute_lift": comparison.get("absolute_lift"),
            "absolute_interval": [absolute.get("lower"), absolute.get("upper")] if absolute else None,
            "p_value": comparison.get("p_value"),
            "verdict": comparison.get("verdict"),
        }
    return {
        "at": iso(now()),
        "step": rollout.step,
        "percentage": rollout.percentage,
        "status": check.status,
        "units": check.units,
        "srm_p_value": check.srm_p_value,
        "metrics": metrics,
    }
