"""Segments: reusable condition sets. Deleting one that is in use is refused and names its users."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.cache import Cache
from experimently.errors import Conflict, NotFound, ValidationFailed, check_version
from experimently.flags import repository as flag_repository
from experimently.flags.documents import segment_document
from experimently.flags.service import RULESET_NAMESPACE
from experimently.kit.clock import now
from experimently.kit.references import ReferenceLookups, segment_keys
from experimently.rbac import Permission, require
from experimently.segments import repository
from experimently.segments.models import Segment
from experimently.segments.schemas import SegmentCreate, SegmentRead, SegmentUpdate
from experimently.webhooks.announce import announce
from experimently_sdk import RuleValidationError, validate_segment


def snapshot(segment: Segment) -> dict[str, Any]:
    return audit.snapshot(SegmentRead, segment)


async def _validate(session: AsyncSession, segment: Segment) -> None:
    others = {
        s.key: segment_document(s) for s in await repository.all_segments(session) if s.key != segment.key
    }
    try:
        validate_segment(segment_document(segment), segments=others)
    except RuleValidationError as exc:
        raise ValidationFailed(
            "segment failed validation", [{"path": p or "body", "message": m} for p, m in exc.errors]
        ) from None


def _references(conditions: list[Any], key: str) -> bool:
    return key in segment_keys(conditions)


async def users_of(session: AsyncSession, key: str, others: ReferenceLookups) -> list[dict[str, str]]:
    """Every flag rule and segment that references segment ``key``, then what ``others`` (the look-ups
    other domains registered, such as experiments' targeting) find."""
    users: list[dict[str, str]] = []
    for flag in await flag_repository.all_flags(session, include_archived=True):
        for env, config in flag.environments.items():
            if any(_references(rule.get("conditions", []), key) for rule in config.get("rules", [])):
                users.append({"type": "flag", "key": flag.key, "environment": env})
    for segment in await repository.all_segments(session):
        if segment.key != key and _references(segment.conditions, key):
            users.append({"type": "segment", "key": segment.key})
    users.extend(await others.find(session, key))
    return users


async def create(session: AsyncSession, cache: Cache, actor: Actor, body: SegmentCreate) -> SegmentRead:
    require(actor, Permission.SEGMENTS_WRITE)
    if await repository.get_segment(session, body.key) is not None:
        raise Conflict(f"segment '{body.key}' exists", details={"key": body.key})
    moment = now()
    segment = Segment(
        **body.model_dump(), owner_id=actor.owner, version=1, created_at=moment, updated_at=moment
    )
    await _validate(session, segment)
    session.add(segment)
    await session.flush()
    audit.record(session, actor, "segment.created", "segment", segment.key, after=snapshot(segment))
    announce(
        session,
        "segment.created",
        actor,
        "segment",
        segment.key,
        after=snapshot(segment),
        path=f"/segments/{segment.key}",
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return SegmentRead.model_validate(segment)


async def get(session: AsyncSession, actor: Actor, key: str) -> Segment:
    require(actor, Permission.SEGMENTS_READ)
    segment = await repository.get_segment(session, key)
    if segment is None:
        raise NotFound("segment", key)
    return segment


async def list_all(session: AsyncSession, actor: Actor) -> list[SegmentRead]:
    require(actor, Permission.SEGMENTS_READ)
    return [SegmentRead.model_validate(s) for s in await repository.all_segments(session)]


async def update(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, body: SegmentUpdate
) -> SegmentRead:
    segment = await get(session, actor, key)
    require(actor, Permission.SEGMENTS_WRITE, owner_id=segment.owner_id)
    check_version("segment", key, segment.version, body.version)
    before = snapshot(segment)
    for field, value in body.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is not None:
            setattr(segment, field, value)
    await _validate(session, segment)
    segment.version += 1
    segment.updated_at = now()
    audit.record(session, actor, "segment.updated", "segment", key, before=before, after=snapshot(segment))
    announce(
        session,
        "segment.updated",
        actor,
        "segment",
        key,
        before=before,
        after=snapshot(segment),
        path=f"/segments/{key}",
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return SegmentRead.model_validate(segment)


async def delete(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, others: ReferenceLookups
) -> None:
    segment = await get(session, actor, key)
    require(actor, Permission.SEGMENTS_WRITE, owner_id=segment.owner_id)
    users = await users_of(session, key, others)
    if users:
        raise Conflict(f"segment '{key}' is in use", details={"used_by": users})
    audit.record(session, actor, "segment.deleted", "segment", key, before=snapshot(segment))
    announce(session, "segment.deleted", actor, "segment", key, before=snapshot(segment), path="/segments")
    await session.delete(segment)
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
