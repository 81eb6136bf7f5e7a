"""SQL of the safety domain: guardrail breaches, guarded rollouts and safety settings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.safety.models import GuardedRollout, GuardrailBreach, SafetySettings


async def breached_pairs(session: AsyncSession, experiment_id: str) -> set[tuple[str, str]]:
    """The (metric, variant) pairs already recorded as breached for the experiment: acted on once."""
    rows = await session.execute(
        select(GuardrailBreach.metric_key, GuardrailBreach.variant).where(
            GuardrailBreach.experiment_id == experiment_id
        )
    )
    return {(str(metric), str(variant)) for metric, variant in rows}


async def breaches_of(session: AsyncSession, experiment_id: str) -> list[GuardrailBreach]:
    rows = await session.scalars(
        select(GuardrailBreach)
        .where(GuardrailBreach.experiment_id == experiment_id)
        .order_by(GuardrailBreach.detected_at, GuardrailBreach.metric_key, GuardrailBreach.variant)
    )
    return list(rows.all())


async def running_rollout_for_update(session: AsyncSession, schedule_id: str) -> GuardedRollout | None:
    """The running guarded rollout that drives a rollout schedule, locked for the scheduler's decision."""
    query = select(GuardedRollout).where(
        GuardedRollout.schedule_id == schedule_id, GuardedRollout.status == "running"
    )
    return (await session.scalars(query.with_for_update())).first()


# --- guarded rollouts ------------------------------------------------------------------------------

UNDER_WAY = ("running", "paused")


async def running_rollout_ids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(GuardedRollout.id).where(GuardedRollout.status == "running"))
    return [str(i) for i in rows.all()]


async def running_rollouts(session: AsyncSession, environment: str | None = None) -> Sequence[GuardedRollout]:
    """The running guarded rollouts, of every environment or of ``environment``."""
    query = select(GuardedRollout).where(GuardedRollout.status == "running")
    if environment is not None:
        query = query.where(GuardedRollout.environment == environment)
    return (await session.scalars(query)).all()


async def rollouts_under_way(session: AsyncSession) -> Sequence[GuardedRollout]:
    """The guarded rollouts running or paused (not ended)."""
    return (await session.scalars(select(GuardedRollout).where(GuardedRollout.status.in_(UNDER_WAY)))).all()


async def rollout_under_way_id(session: AsyncSession, flag_id: str, environment: str) -> str | None:
    """The id of the flag's guarded rollout under way (running or paused) in ``environment``, if any."""
    running = await session.scalars(
        select(GuardedRollout.id).where(
            GuardedRollout.flag_id == flag_id,
            GuardedRollout.environment == environment,
            GuardedRollout.status.in_(UNDER_WAY),
        )
    )
    return running.first()


async def rollouts_under_way_of_flag(session: AsyncSession, flag_id: str) -> Sequence[GuardedRollout]:
    """The flag's guarded rollouts under way (running or paused), in every environment, oldest first."""
    rows = await session.scalars(
        select(GuardedRollout)
        .where(GuardedRollout.flag_id == flag_id, GuardedRollout.status.in_(UNDER_WAY))
        .order_by(GuardedRollout.created_at)
    )
    return rows.all()


async def rollout_of_schedule(session: AsyncSession, schedule_id: str) -> str | None:
    """The id of the guarded rollout under way (running or paused) that a rollout schedule moves, if any."""
    rows = await session.scalars(
        select(GuardedRollout.id).where(
            GuardedRollout.schedule_id == schedule_id, GuardedRollout.status.in_(UNDER_WAY)
        )
    )
    return rows.first()


async def rollouts_by_schedule(session: AsyncSession, flag_id: str) -> dict[str, str]:
    """``{schedule id: guarded rollout id}`` for the flag's guarded rollouts that have a schedule,
    whatever their status: a rollout's schedule is its own for the schedule's whole life."""
    rows = await session.execute(
        select(GuardedRollout.schedule_id, GuardedRollout.id).where(
            GuardedRollout.flag_id == flag_id, GuardedRollout.schedule_id.is_not(None)
        )
    )
    return {str(schedule): str(rollout) for schedule, rollout in rows}


async def rollout_of_flag(
    session: AsyncSession, flag_key: str, rollout_id: str, *, lock: bool = False
) -> GuardedRollout | None:
    """The guarded rollout ``rollout_id`` of the flag ``flag_key`` (locked when ``lock``)."""
    query = select(GuardedRollout).where(GuardedRollout.id == rollout_id, GuardedRollout.flag_key == flag_key)
    return (await session.scalars(query.with_for_update() if lock else query)).first()


async def rollouts_of_flag(session: AsyncSession, flag_key: str) -> Sequence[GuardedRollout]:
    """Every guarded rollout of the flag, newest first."""
    rows = await session.scalars(
        select(GuardedRollout)
        .where(GuardedRollout.flag_key == flag_key)
        .order_by(GuardedRollout.created_at.desc())
    )
    return rows.all()


# --- safety settings -------------------------------------------------------------------------------


async def settings_naming(session: AsyncSession, metric_key: str) -> list[SafetySettings]:
    """The safety settings (of environments and of flags) that name metric ``metric_key``."""
    rows = (await session.scalars(select(SafetySettings).order_by(SafetySettings.environment))).all()
    return [r for r in rows if metric_key in (r.guardrail_metrics or []) or r.success_metric == metric_key]


async def settings_row(
    session: AsyncSession, environment: str, flag_key: str, *, lock: bool = False
) -> SafetySettings | None:
    """The safety settings of ``environment`` (``flag_key`` empty) or of one flag there."""
    query = select(SafetySettings).where(
        SafetySettings.environment == environment, SafetySettings.flag_key == flag_key
    )
    return (await session.scalars(query.with_for_update() if lock else query)).first()
