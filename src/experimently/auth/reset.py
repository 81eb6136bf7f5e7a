"""An admin resets a person's password: a generated one, shown once; every session of theirs ends."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.auth import security
from experimently.auth.models import RefreshToken, User
from experimently.errors import NotFound
from experimently.kit.clock import now
from experimently.rbac import Permission, require


async def reset_password(session: AsyncSession, actor: Actor, user_id: str) -> str:
    require(actor, Permission.USERS_WRITE)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    password = security.generate_password()
    user.password_hash = security.hash_password(password)
    user.password_changed_at = now()  # access tokens issued before now stop working
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    audit.record(session, actor, "user.password_reset", "user", user.id)
    return password
