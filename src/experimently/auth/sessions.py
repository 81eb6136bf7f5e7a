"""Login sessions: a session is a refresh-token family (one login, continued by each refresh). A
person lists theirs (device, IP, start, last use) and ends one or all; an admin does it for anyone.

"Last use" is the last login or refresh of the session (access tokens are not written per request).
Ending a session revokes its refresh tokens: it cannot be continued, and its current access token
expires within ``ACCESS_TOKEN_TTL_SECONDS``. With ``SESSION_IDLE_TIMEOUT_SECONDS`` a session unused that
long is not listed and its refresh is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.auth import repository
from experimently.auth.models import User
from experimently.config import Settings
from experimently.errors import NotFound
from experimently.kit.clock import now
from experimently.rbac import Permission, require


class SessionRead(BaseModel):
    id: str
    user_agent: str
    ip: str
    started_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


def _check(actor: Actor, user_id: str, permission: Permission) -> None:
    if user_id != actor.id:
        require(actor, permission)


async def list_sessions(
    session: AsyncSession, settings: Settings, actor: Actor, user_id: str
) -> list[SessionRead]:
    """The user's live sessions, most recently used first."""
    _check(actor, user_id, Permission.USERS_READ)
    if await session.get(User, user_id) is None:
        raise NotFound("user", user_id)
    moment = now()
    idle_since = None
    if settings.session_idle_timeout_seconds:
        idle_since = moment - timedelta(seconds=settings.session_idle_timeout_seconds)
    rows = await repository.live_tokens(session, user_id, moment, idle_since)
    started = await repository.family_starts(session, [r.family_id for r in rows])
    return [
        SessionRead(
            id=r.family_id,
            user_agent=r.user_agent or "",
            ip=r.ip or "",
            started_at=started.get(r.family_id, r.created_at),
            last_used_at=r.created_at,
            expires_at=r.expires_at,
            current=r.family_id == actor.session_id,
        )
        for r in rows
    ]


async def revoke(session: AsyncSession, actor: Actor, user_id: str, session_id: str | None) -> int:
    """End one session (``session_id``) or all of them (None); returns how many ended. Audited."""
    _check(actor, user_id, Permission.USERS_WRITE)
    count = len(await repository.revoke_sessions(session, user_id, session_id))
    if session_id is not None and count == 0:
        raise NotFound("session", session_id)
    action = "auth.session_revoked" if session_id else "auth.sessions_revoked"
    after = {"session_id": session_id} if session_id else {"sessions": count}
    audit.record(session, actor, action, "user", user_id, after=after)
    return count
