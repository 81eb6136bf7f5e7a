"""All SQL of experiments, layers and assignments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from experimently.experiments.models import Assignment, Experiment, Layer
from experimently.kit.clock import now


async def get_experiment(session: AsyncSession, ref: str, *, for_update: bool = False) -> Experiment | None:
    """By id or by key."""
    query = select(Experiment).where(or_(Experiment.id == ref, Experiment.key == ref))
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_experiments(
    session: AsyncSession,
    *,
    status: str | None,
    owner: str | None,
    text: str | None,
    sort: str,
    limit: int,
    offset: int,
    tag: str | None,
) -> tuple[Sequence[Experiment], int]:
    query = select(Experiment)
    if status:
        query = query.where(Experiment.status == status)
    if owner:
        query = query.where(Experiment.owner_id == owner)
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            or_(func.lower(Experiment.key).like(like), func.lower(Experiment.name).like(like))
        )
    column = {
        "created_at": Experiment.created_at,
        "name": Experiment.name,
        "key": Experiment.key,
        "updated_at": Experiment.updated_at,
    }[sort.lstrip("-")]
    query = query.order_by(column.desc() if sort.startswith("-") else column, Experiment.key)
    rows = (await session.scalars(query)).all()
    if tag:
        rows = [r for r in rows if tag in r.tags]
    return rows[offset : offset + limit], len(rows)


async def in_statuses(session: AsyncSession, statuses: Sequence[str]) -> Sequence[Experiment]:
    query = select(Experiment).where(Experiment.status.in_(statuses)).order_by(Experiment.key)
    return (await session.scalars(query)).all()


async def aggregated(session: AsyncSession, ended_since: datetime) -> Sequence[Experiment]:
    """Running and paused experiments, and those completed at or after ``ended_since`` (the ones the
    aggregation job still covers): completed experiments pile up, and each run must not read them all."""
    query = (
        select(Experiment)
        .where(
            or_(
                Experiment.status.in_(["running", "paused"]),
                (Experiment.status == "completed") & (Experiment.ended_at >= ended_since),
            )
        )
        .order_by(Experiment.key)
    )
    return (await session.scalars(query)).all()


async def layer_members(session: AsyncSession, layer_key: str) -> Sequence[Experiment]:
    query = select(Experiment).where(
        Experiment.layer_key == layer_key, Experiment.status.in_(["draft", "scheduled", "running", "paused"])
    )
    return (await session.scalars(query.order_by(Experiment.layer_range_start))).all()


async def shipped(session: AsyncSession) -> Sequence[tuple[str, str, dict[str, Any]]]:
    """``(key, environment, shipped)`` of every experiment that shipped a variant."""
    query = select(Experiment.key, Experiment.environment, Experiment.shipped).where(
        Experiment.shipped.is_not(None)
    )
    return [(k, e, s) for k, e, s in await session.execute(query) if s]


async def variant_keys(session: AsyncSession) -> dict[str, list[str]]:
    """Every experiment's key and its variants' keys, in order."""
    rows = await session.execute(select(Experiment.key, Experiment.variants))
    return {key: [str(v["key"]) for v in variants or []] for key, variants in rows}


async def get_layer(session: AsyncSession, key: str) -> Layer | None:
    return await session.scalar(select(Layer).where(Layer.key == key))


async def all_layers(session: AsyncSession) -> Sequence[Layer]:
    return (await session.scalars(select(Layer).order_by(Layer.key))).all()


async def stored_assignments(
    session: AsyncSession, experiment_id: str, units: Sequence[str]
) -> dict[str, str]:
    if not units:
        return {}
    rows = await session.execute(
        select(Assignment.unit_id, Assignment.variant).where(
            Assignment.experiment_id == experiment_id, Assignment.unit_id.in_(list(set(units)))
        )
    )
    return {str(unit): str(variant) for unit, variant in rows.all()}


async def insert_assignments(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Insert first assignments; a concurrent first assignment of the same unit wins (DO NOTHING)."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    if dialect == "postgresql":  # imported here: SQLite never loads the PostgreSQL dialect
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(Assignment).values(rows).on_conflict_do_nothing())
    else:
        await session.execute(sqlite_insert(Assignment).values(rows).on_conflict_do_nothing())


# PostgreSQL: one statement text whatever the batch size (the arrays are its parameters), so neither
# SQLAlchemy nor asyncpg compiles or prepares it again per batch. A multi-row VALUES insert is a new
# statement for every row count: its compilation was ~15% of the server's CPU per first assignment.
# WITH ORDINALITY keeps the callers' order, which is the lock order.
_PG_INSERT_FIRST = text(
    "INSERT INTO assignments (experiment_id, unit_id, variant, environment, assigned_at) "
    "SELECT e, u, v, env, at FROM unnest(CAST(:e AS varchar[]), CAST(:u AS varchar[]), "
    "CAST(:v AS varchar[]), CAST(:env AS varchar[]), CAST(:at AS timestamptz[])) "
    "WITH ORDINALITY AS t(e, u, v, env, at, n) ORDER BY n "
    "ON CONFLICT DO NOTHING RETURNING experiment_id, unit_id"
)


async def insert_first_assignments(
    session: AsyncSession, rows: Sequence[dict[str, object]]
) -> set[tuple[str, str]]:
    """Insert first assignments of many units (of any experiments) in one statement; returns the
    ``(experiment_id, unit_id)`` pairs this statement stored. A pair already stored, by anyone, is
    left as it is (first write wins): PostgreSQL waits for a concurrent insert of the same pair to
    commit or roll back, so a pair missing from the answer is committed and readable. Callers sort
    the rows so concurrent batches lock in the same order (no deadlock)."""
    if not rows:
        return set()
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    if dialect == "postgresql":
        moment = now()
        columns = {
            "e": [r["experiment_id"] for r in rows],
            "u": [r["unit_id"] for r in rows],
            "v": [r["variant"] for r in rows],
            "env": [r["environment"] for r in rows],
            "at": [_utc(r.get("assigned_at") or moment) for r in rows],  # the model's default: now
        }
        result = await session.execute(_PG_INSERT_FIRST, columns)
        return {(str(e), str(u)) for e, u in result.all()}
    statement: ReturningInsert[str, str] = (
        sqlite_insert(Assignment)
        .values(list(rows))
        .on_conflict_do_nothing()
        .returning(Assignment.experiment_id, Assignment.unit_id)
    )
    return {(str(e), str(u)) for e, u in (await session.execute(statement)).all()}


def _utc(value: object) -> datetime:
    """A timezone-aware UTC datetime, as ``UTCDateTime`` binds it (naive values are UTC)."""
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def stored_pairs(session: AsyncSession, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Stored variants of ``(experiment_id, unit_id)`` pairs (absent pairs are left out)."""
    if not pairs:
        return {}
    key = tuple_(Assignment.experiment_id, Assignment.unit_id)
    rows = await session.execute(
        select(Assignment.experiment_id, Assignment.unit_id, Assignment.variant).where(
            key.in_(sorted(set(pairs)))
        )
    )
    return {(str(e), str(u)): str(v) for e, u, v in rows.all()}


async def unit_history(
    session: AsyncSession, unit_id: str, *, environment: str | None = None
) -> Sequence[tuple[str, str, str, datetime]]:
    query = (
        select(Experiment.key, Assignment.variant, Assignment.environment, Assignment.assigned_at)
        .join(Experiment, Experiment.id == Assignment.experiment_id)
        .where(Assignment.unit_id == unit_id)
        .order_by(Assignment.assigned_at)
    )
    if environment is not None:
        query = query.where(Assignment.environment == environment)
    rows = await session.execute(query)
    return [(k, v, e, t) for k, v, e, t in rows.all()]


async def count_assignments(session: AsyncSession, experiment_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(Assignment.variant, func.count())
        .where(Assignment.experiment_id == experiment_id)
        .group_by(Assignment.variant)
    )
    return {variant: int(count) for variant, count in rows.all()}


async def delete_unit_assignments(session: AsyncSession, unit_id: str) -> int:
    """Erase one unit's assignments (privacy); returns how many were deleted."""
    result = await session.execute(delete(Assignment).where(Assignment.unit_id == unit_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # DELETE results carry rowcount


async def not_archived(session: AsyncSession) -> Sequence[Experiment]:
    """Every experiment an application may still be assigned to or read (assignment's definitions)."""
    return (await session.scalars(select(Experiment).where(Experiment.status != "archived"))).all()


async def layer_salts(session: AsyncSession) -> dict[str, str]:
    return {layer.key: layer.salt for layer in (await session.scalars(select(Layer))).all()}
