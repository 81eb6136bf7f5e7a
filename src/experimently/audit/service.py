"""``record()``: the one way to write the audit trail, in the caller's transaction."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.audit import repository
from experimently.audit.models import AuditLog
from experimently.audit.repository import AuditFilter as AuditFilter  # the filter callers build
from experimently.audit.schemas import AuditRead
from experimently.db import Database
from experimently.kit.clock import iso, now
from experimently.kit.context import current
from experimently.rbac import Permission, permissions_for, require
from experimently.webhooks.urls import redacted


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


# The resource types named by their key in records: the key is the name.
_KEYED = frozenset({"flag", "segment", "metric", "layer"})
# The types named by a UUID, and the field of their snapshots that names them (for deleted ones).
_SNAPSHOT_NAME = {"user": "email", "environment": "key", "api_key": "name", "experiment": "key"}


async def read_entries(
    session: AsyncSession, actor: Actor, f: AuditFilter, limit: int, offset: int
) -> tuple[list[AuditRead], int]:
    """A page of audit records as readers see them, newest first, and their total: each with a
    ``resource_label`` (the name the record itself holds, as it was then; else the resource's name
    now; else the last name its records on the page hold), and, for readers
    who may not manage webhooks, a webhook's URL redacted wherever it appears (receivers such as
    Slack keep their secret in the path)."""
    rows, total = await list_entries(session, actor, f, limit, offset)
    return await _readable(session, actor, rows), total


async def _readable(session: AsyncSession, actor: Actor, rows: Sequence[AuditLog]) -> list[AuditRead]:
    """``rows`` as ``actor`` reads them: labelled, webhook URLs redacted unless they manage webhooks."""
    whole_urls = Permission.WEBHOOKS_MANAGE in permissions_for(actor)
    ids: dict[str, set[str]] = {}
    for row in rows:
        if row.resource_id and (row.resource_type in _SNAPSHOT_NAME or row.resource_type == "webhook"):
            ids.setdefault(row.resource_type, set()).add(row.resource_id)
    names = await repository.current_names(session, ids)
    for hook_id, (description, url) in (
        await repository.webhook_targets(session, ids.get("webhook", set()))
    ).items():
        names["webhook", hook_id] = description or (url if whole_urls else redacted(url))
    # each record's own name for the resource, as it was when written (the Who column's actor_label is
    # the name at the time too); a deleted resource's records without one take the newest on this page
    recorded = {row.id: _recorded_name(row, whole_urls) for row in rows}
    for row in rows:
        ref = (row.resource_type, row.resource_id or "")
        if row.resource_id and ref not in names and (name := recorded[row.id]) is not None:
            names[ref] = name
    entries = []
    for row in rows:
        entry = AuditRead.model_validate(row)
        if row.resource_type == "webhook" and not whole_urls:
            entry = _redact_urls(entry)
        if row.resource_id is not None:
            ref = (row.resource_type, row.resource_id)
            keyed = row.resource_type in _KEYED
            entry.resource_label = row.resource_id if keyed else recorded[row.id] or names.get(ref)
        entries.append(entry)
    return entries


def _recorded_name(row: AuditLog, whole_urls: bool) -> str | None:
    if row.resource_type == "user" and row.actor_type == "user" and row.actor_id == row.resource_id:
        return row.actor_label  # a person's own sign-in, MFA or password change
    for snap in (row.after, row.before):
        if not isinstance(snap, dict):
            continue
        if row.resource_type == "webhook":
            if isinstance(snap.get("description"), str) and snap["description"]:
                return str(snap["description"])
            if isinstance(snap.get("url"), str):
                return snap["url"] if whole_urls else redacted(snap["url"])
        elif (field := _SNAPSHOT_NAME.get(row.resource_type)) and isinstance(snap.get(field), str):
            return str(snap[field])
    return None


def _redact_urls(entry: AuditRead) -> AuditRead:
    def hide(snap: dict[str, Any] | None) -> dict[str, Any] | None:
        if snap is None or not isinstance(snap.get("url"), str):
            return snap
        return {**snap, "url": redacted(snap["url"])}

    change = (entry.diff or {}).get("url")
    diff_ = entry.diff
    if isinstance(change, dict):
        hidden = {side: _hide_text(change.get(side)) for side in ("before", "after")}
        diff_ = {**(entry.diff or {}), "url": hidden}
    return entry.model_copy(update={"before": hide(entry.before), "after": hide(entry.after), "diff": diff_})


def _hide_text(value: Any) -> Any:
    return redacted(value) if isinstance(value, str) else value


EXPORT_PAGE = 1000
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "resource_type",
    "resource_id",
    "resource_label",
    "reason",
    "request_id",
    "ip",
    "user_agent",
    "before",
    "after",
    "diff",
)


async def export(db: Database, actor: Actor, f: AuditFilter, fmt: str) -> AsyncIterator[bytes]:
    """Every record matching ``f``, newest first, as CSV (one row per record, ``before``/``after``/
    ``diff`` as JSON text) or NDJSON (one ``AuditRead`` per line), read as ``actor`` reads the trail,
    a page of ``EXPORT_PAGE`` at a time (keyset, so any length). The permission is checked and the
    export itself recorded (``audit.exported``, with its filters) before the first byte."""
    require(actor, Permission.AUDIT_READ)
    filters = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in asdict(f).items() if v}
    async with db.transaction() as session:
        record(session, actor, "audit.exported", "audit_log", None, after={"format": fmt, "filters": filters})
    return _export_pages(db, actor, f, fmt)


async def _export_pages(db: Database, actor: Actor, f: AuditFilter, fmt: str) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
    before: int | None = None
    while True:
        async with db.sessions() as session:
            rows = await repository.page_before(session, f, before, EXPORT_PAGE)
            entries = await _readable(session, actor, rows)
        if not rows:
            return
        for entry in entries:
            if fmt == "csv":
                data = entry.model_dump(mode="json")
                yield _csv_line(
                    [
                        json.dumps(data[c], ensure_ascii=False, sort_keys=True)
                        if c in ("before", "after", "diff") and data[c] is not None
                        else data[c]
                        for c in CSV_COLUMNS
                    ]
                )
            else:
                yield entry.model_dump_json().encode() + b"\n"
        before = rows[-1].id


def _csv_line(values: Sequence[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(["" if v is None else _no_formula(v) for v in values])
    return out.getvalue().encode()


def _no_formula(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted
    with a leading apostrophe: an audit record holds what users typed."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
