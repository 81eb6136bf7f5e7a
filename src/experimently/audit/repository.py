"""Audit queries. The trail has no update path; records are deleted only by age, by retention
(``experimently.retention``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select
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
        query = query.where(_actions(f.action))
    if f.since:
        query = query.where(AuditLog.occurred_at >= f.since)
    if f.until:
        query = query.where(AuditLog.occurred_at < f.until)
    return query


def _actions(spec: str) -> ColumnElement[bool]:
    """``flag.killed``; several, comma-separated (``user.created,api_key.created``); or every action of
    a kind with ``.*`` (``api_key.*``)."""
    wanted = [item.strip() for item in spec.split(",") if item.strip()]
    exact = [item for item in wanted if not item.endswith(".*")]
    prefixes = [item[:-1] for item in wanted if item.endswith(".*")]
    clauses: list[ColumnElement[bool]] = [AuditLog.action.in_(exact)] if exact else []
    # the kind's dot is part of the prefix, and LIKE's own wildcards in it are taken literally
    clauses += [AuditLog.action.startswith(prefix, autoescape=True) for prefix in prefixes]
    return or_(*clauses) if clauses else AuditLog.action == spec


async def page_before(
    session: AsyncSession, f: AuditFilter, before_id: int | None, size: int
) -> Sequence[AuditLog]:
    """Up to ``size`` records matching ``f``, newest first, older than ``before_id`` (keyset paging,
    for an export of any length)."""
    query = _filtered(select(AuditLog), f)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    return (await session.scalars(query.order_by(AuditLog.id.desc()).limit(size))).all()


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
