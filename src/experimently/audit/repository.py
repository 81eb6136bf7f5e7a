"""Audit queries. The trail has no update path; records are deleted only by age, by retention
(``experimently.retention``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.audit.models import AuditLog


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select[AuditLog], f: AuditFilter) -> Select[AuditLog]:
    if f.actor_id:
        query = query.where(AuditLog.actor_id == f.actor_id)
    if f.resource_type:
        query = query.where(AuditLog.resource_type == f.resource_type)
    if f.resource_id:
        query = query.where(AuditLog.resource_id == f.resource_id)
    if f.action:
        query = query.where(AuditLog.action == f.action)
    if f.since:
        query = query.where(AuditLog.occurred_at >= f.since)
    if f.until:
        query = query.where(AuditLog.occurred_at < f.until)
    return query


async def list_entries(
    session: AsyncSession, f: AuditFilter, limit: int, offset: int
) -> tuple[Sequence[AuditLog], int]:
    base = _filtered(select(AuditLog), f)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(base.order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return rows.all(), int(total or 0)


async def delete_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: delete the records older than ``cutoff``; returns how many."""
    result = await session.execute(delete(AuditLog).where(AuditLog.occurred_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]  # DELETE result
