"""An admin resets a person's password: a generated one, shown once; every session of theirs ends."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.auth import repository, security
from experimently.auth.models import User
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
    await repository.revoke_user_tokens(session, user.id)
    audit.record(session, actor, "user.password_reset", "user", user.id)
    return password
