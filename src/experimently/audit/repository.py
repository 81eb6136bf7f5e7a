"""Audit queries. The trail has no update path; records are deleted only by age, by retention
(``experimently.retention``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.audit.models import AuditLog
from experimently.auth.models import ApiKey, User
from experimently.environments.models import Environment
from experimently.experiments.models import Experiment
from experimently.webhooks.models import Webhook


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


# The resource types whose records name the resource by a UUID, and the column that names it well.
_NAMED_BY: dict[str, Any] = {
    "user": (User.id, User.email),
    "environment": (Environment.id, Environment.key),
    "api_key": (ApiKey.id, ApiKey.name),
    "experiment": (Experiment.id, Experiment.key),
}


async def current_names(session: AsyncSession, ids: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """``(type, id) -> name`` for the resources named by UUID in audit records that still exist: a
    person's email, an environment's key, an experiment's key, an API key's name."""
    names: dict[tuple[str, str], str] = {}
    for type_, (id_column, name_column) in _NAMED_BY.items():
        if wanted := ids.get(type_):
            rows = await session.execute(select(id_column, name_column).where(id_column.in_(wanted)))
            names.update({(type_, str(id_)): str(name) for id_, name in rows})
    return names


async def webhook_targets(session: AsyncSession, ids: set[str]) -> dict[str, tuple[str, str]]:
    """``id -> (description, url)`` of the webhooks that still exist among ``ids``."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Webhook.id, Webhook.description, Webhook.url).where(Webhook.id.in_(ids))
    )
    return {id_: (description, url) for id_, description, url in rows}
