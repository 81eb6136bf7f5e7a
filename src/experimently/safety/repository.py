"""SQL of the safety domain: guardrail breaches."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.safety.models import GuardedRollout, GuardrailBreach


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
