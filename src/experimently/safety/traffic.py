"""Waiting for traffic: a scheduled guarded rollout does not move to its next step while its current
step has not reached ``min_units`` in each group.

The rollout scheduler (``flags.apply_rollouts``) asks :func:`hold_for_traffic` before it applies a due
step of a schedule. For the schedule of a running guarded rollout whose current step (above 0% and
below 100%) has fewer than ``min_units`` units in either group at the monitor's last check, the step
waits: the rollout reports ``hold = waiting_for_traffic`` and ``waiting_since`` (when the step was due,
or when the current step began if later), and the start of the wait is audited and announced once
(``flag.rollout_held``). The next run after the monitor has seen enough units applies the step. With
``max_wait_seconds`` set, a wait longer than that pauses the rollout and its schedule
(``flag.rollout_paused``, a ``no_traffic`` entry in ``breaches``); ``POST .../resume`` starts a new
wait. A step's planned time stays a lower bound: a step is applied at its time or, when held, as soon
as the step before it has its units, never earlier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM
from experimently.flags.models import RolloutSchedule
from experimently.flags.service import console_path
from experimently.kit.clock import ensure_utc, iso, now
from experimently.safety import repository
from experimently.safety.models import GuardedRollout
from experimently.safety.rollouts import ACTIONS, _sync, rollout_snapshot
from experimently.webhooks.announce import announce

log = structlog.get_logger(__name__)
HOLD = "waiting_for_traffic"


def step_units(rollout: GuardedRollout) -> dict[str, int] | None:
    """Units per group of the current step at the monitor's last check (None: not checked in this step,
    or the flag was off)."""
    last = rollout.last_check or {}
    units = last.get("units")
    if last.get("step") != rollout.step or not isinstance(units, dict):
        return None
    return {str(k): int(v) for k, v in units.items()}


def has_traffic(rollout: GuardedRollout) -> bool:
    """Whether the current step may be left: no comparison to wait for (no step applied yet, or 0% or
    100%), or both groups reached ``min_units``."""
    if rollout.step == 0 or not 0 < rollout.percentage < 100:
        return True
    units = step_units(rollout) or {}
    return min(units.get(rollout.control, 0), units.get(rollout.variation, 0)) >= rollout.min_units


def _shortfall(rollout: GuardedRollout) -> str:
    units = step_units(rollout) or {}
    return (
        f"step {rollout.step} ({rollout.percentage:g}%) has {units.get(rollout.control, 0)} units on "
        f"'{rollout.control}' and {units.get(rollout.variation, 0)} on '{rollout.variation}', "
        f"{rollout.min_units} needed in each"
    )


def _duration(seconds: float) -> str:
    if seconds >= 86_400 and seconds % 3_600 == 0:
        return f"{seconds / 86_400:g} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:g} h"
    return f"{seconds / 60:g} min"


async def hold_for_traffic(session: AsyncSession, schedule: RolloutSchedule, due: datetime) -> bool:
    """The rollout scheduler's question for a due step: keep it waiting? (See the module docstring.)"""
    rollout = await repository.running_rollout_for_update(session, schedule.id)
    if rollout is None:
        return False
    await _sync(session, rollout)
    if has_traffic(rollout):
        rollout.waiting_since = None
        return False
    percentage = float(schedule.steps[schedule.next_step]["percentage"])
    summary: dict[str, Any] = {
        "rollout_id": rollout.id,
        "environment": rollout.environment,
        "variation": rollout.variation,
        "step": rollout.step,
        "percentage": rollout.percentage,
        "next_percentage": percentage,
        "units": step_units(rollout) or {},
        "min_units": rollout.min_units,
    }
    if rollout.waiting_since is None:
        # from when the step was due, or (applied late, after its own wait) when the current step began
        started = rollout.step_started_at
        rollout.waiting_since = max(due, ensure_utc(started)) if started is not None else due
        reason = f"the step to {percentage:g}% waits for traffic: {_shortfall(rollout)}"
        audit.record(
            session, SYSTEM, "flag.rollout_held", "flag", rollout.flag_key, after=summary, reason=reason
        )
        announce(
            session,
            "flag.rollout_held",
            SYSTEM,
            "flag",
            rollout.flag_key,
            reason=reason,
            path=console_path(rollout.flag_key),
            extra=summary,
        )
        log.info("safety.rollout_waiting_for_traffic", flag=rollout.flag_key, rollout_id=rollout.id)
        ACTIONS.labels("held").inc()
    waited = (now() - ensure_utc(rollout.waiting_since)).total_seconds()
    if rollout.max_wait_seconds is not None and waited >= rollout.max_wait_seconds:
        _pause(session, rollout, schedule, summary, rollout.max_wait_seconds)
    return True


def _pause(
    session: AsyncSession,
    rollout: GuardedRollout,
    schedule: RolloutSchedule,
    summary: dict[str, Any],
    waited: int,
) -> None:
    """The wait ran out: the rollout and its schedule pause (the flag stays where it is)."""
    reason = f"no traffic: after waiting {_duration(waited)} for the next step, {_shortfall(rollout)}"
    before = rollout_snapshot(rollout)
    schedule.status = "paused"
    rollout.status = "paused"
    rollout.outcome = f"paused: {reason}"[:2000]
    rollout.breaches = [
        *rollout.breaches,
        {
            "kind": "no_traffic",
            "metric": None,
            "relative_lift": None,
            "relative_interval": None,
            "absolute_lift": None,
            "absolute_interval": None,
            "p_value": None,
            "units": summary["units"],
            "step": rollout.step,
            "action": "paused",
            "detected_at": iso(now()),
            "reason": reason,
        },
    ]
    audit.record(
        session,
        SYSTEM,
        "flag.rollout_paused",
        "flag",
        rollout.flag_key,
        before=before,
        after=rollout_snapshot(rollout),
        reason=reason,
    )
    announce(
        session,
        "flag.rollout_paused",
        SYSTEM,
        "flag",
        rollout.flag_key,
        before={"status": "running"},
        after={"status": "paused"},
        reason=reason,
        path=console_path(rollout.flag_key),
        extra=summary,
    )
    log.warning("safety.rollout_stalled", flag=rollout.flag_key, rollout_id=rollout.id, reason=reason)
    ACTIONS.labels("paused").inc()
