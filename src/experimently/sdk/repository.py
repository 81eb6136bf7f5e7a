"""SQL for the SDK payload: one environment's experiments and the layers they sit in."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.experiments.models import Assignment, Experiment, Layer
from experimently.experiments.schemas import Status


async def environment_experiments(session: AsyncSession, environment: str) -> Sequence[Experiment]:
    query = (
        select(Experiment)
        .where(Experiment.environment == environment, Experiment.status != Status.ARCHIVED)
        .order_by(Experiment.key)
    )
    return (await session.scalars(query)).all()


async def layer_salts(session: AsyncSession, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = (await session.scalars(select(Layer).where(Layer.key.in_(keys)))).all()
    return {row.key: row.salt for row in rows}


async def assignment_count(session: AsyncSession, experiment_id: str) -> int:
    query = select(func.count()).select_from(Assignment).where(Assignment.experiment_id == experiment_id)
    return int(await session.scalar(query) or 0)


async def stored_assignments(session: AsyncSession, experiment_id: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(Assignment.unit_id, Assignment.variant).where(Assignment.experiment_id == experiment_id)
    )
    return [(str(unit), str(variant)) for unit, variant in rows.all()]
