"""``record()``: the one way to write the audit trail, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.audit import repository
from experimently.audit.models import AuditLog
from experimently.audit.repository import AuditFilter as AuditFilter  # the filter callers build
from experimently.kit.clock import iso, now
from experimently.kit.context import current
from experimently.rbac import Permission, require


def jsonable(value: Any) -> Any:
    """Turn a snapshot into JSON-safe data (datetimes to ISO text, enums to values)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


def snapshot(
    schema: type[BaseModel], obj: Any, *, volatile: tuple[str, ...] = ("created_at", "updated_at", "id")
) -> dict[str, Any]:
    """A resource as its read schema shows it, minus the fields every change touches (the audit
    ``before`` / ``after`` of a change)."""
    data: dict[str, Any] = schema.model_validate(obj).model_dump(mode="json")
    for name in volatile:
        data.pop(name, None)
    return data


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Field-level diff ``{field: {"before": x, "after": y}}`` of two snapshots."""
    old, new = before or {}, after or {}
    return {
        key: {"before": old.get(key), "after": new.get(key)}
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditLog:
    """Add one audit record to ``session`` (committed with the change it describes)."""
    ctx = current()
    before_json = jsonable(before) if before is not None else None
    after_json = jsonable(after) if after is not None else None
    entry = AuditLog(
        occurred_at=now(),
        actor_type=str(actor.kind),
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=before_json,
        after=after_json,
        diff=diff(before_json, after_json),
        reason=reason,
        request_id=ctx.request_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    session.add(entry)
    return entry


async def list_entries(
    session: AsyncSession, actor: Actor, f: AuditFilter, limit: int, offset: int
) -> tuple[Sequence[AuditLog], int]:
    """Audit records matching ``f``, newest first, and their total (admins and analysts)."""
    require(actor, Permission.AUDIT_READ)
    return await repository.list_entries(session, f, limit, offset)
