"""Export and erasure of one user id across every registered provider (admin only, audited)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.privacy import PrivacyProviders
from experimently.rbac import Permission, require


def subject_ref(user_id: str) -> str:
    """The audit trail names the subject by a digest, so erasure does not leave the id behind."""
    return "sha256:" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


async def export_user(
    session: AsyncSession, providers: PrivacyProviders, actor: Actor, user_id: str
) -> dict[str, Any]:
    require(actor, Permission.PRIVACY_WRITE)
    data = {p.name: await p.export(session, user_id) for p in providers.all()}
    counts = {name: len(rows) for name, rows in data.items()}
    audit.record(session, actor, "privacy.exported", "privacy_subject", subject_ref(user_id), after=counts)
    return {"user_id": user_id, "data": data}


async def erase_user(
    session: AsyncSession, providers: PrivacyProviders, actor: Actor, user_id: str
) -> dict[str, int]:
    require(actor, Permission.PRIVACY_WRITE)
    counts = {p.name: await p.erase(session, user_id) for p in providers.all()}
    audit.record(session, actor, "privacy.erased", "privacy_subject", subject_ref(user_id), after=counts)
    return counts
