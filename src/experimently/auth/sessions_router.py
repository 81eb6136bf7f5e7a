"""Sessions (beta: ``/api/beta``): list and end one's own login sessions; admins do it for anyone."""

from __future__ import annotations

from fastapi import APIRouter

from experimently.auth import sessions
from experimently.auth.deps import ActorDep, PersonDep
from experimently.auth.sessions import SessionRead
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope

router = APIRouter(tags=["sessions (beta)"])


@router.get("/sessions", response_model=Envelope[list[SessionRead]])
async def my_sessions(
    actor: PersonDep, session: SessionDep, runtime: RuntimeDep
) -> Envelope[list[SessionRead]]:
    """One's own live sessions: device (user agent), IP, start and last use; ``current`` marks this one."""
    rows = await sessions.list_sessions(session, runtime.settings, actor, actor.id)
    return Envelope(data=rows, meta={"total": len(rows)})


@router.delete("/sessions", response_model=Envelope[dict[str, int]])
async def end_my_sessions(actor: PersonDep, session: SessionDep) -> Envelope[dict[str, int]]:
    """End every session of one's own (this one included)."""
    return Envelope(data={"ended": await sessions.revoke(session, actor, actor.id, None)})


@router.delete("/sessions/{session_id}", response_model=Envelope[dict[str, int]])
async def end_my_session(actor: PersonDep, session: SessionDep, session_id: str) -> Envelope[dict[str, int]]:
    """End one of one's own sessions."""
    return Envelope(data={"ended": await sessions.revoke(session, actor, actor.id, session_id)})


@router.get("/users/{user_id}/sessions", response_model=Envelope[list[SessionRead]])
async def user_sessions(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, user_id: str
) -> Envelope[list[SessionRead]]:
    """Another person's live sessions (admin)."""
    rows = await sessions.list_sessions(session, runtime.settings, actor, user_id)
    return Envelope(data=rows, meta={"total": len(rows)})


@router.delete("/users/{user_id}/sessions", response_model=Envelope[dict[str, int]])
async def end_user_sessions(actor: ActorDep, session: SessionDep, user_id: str) -> Envelope[dict[str, int]]:
    """End every session of another person (admin, audited)."""
    return Envelope(data={"ended": await sessions.revoke(session, actor, user_id, None)})


@router.delete("/users/{user_id}/sessions/{session_id}", response_model=Envelope[dict[str, int]])
async def end_user_session(
    actor: ActorDep, session: SessionDep, user_id: str, session_id: str
) -> Envelope[dict[str, int]]:
    """End one session of another person (admin, audited)."""
    return Envelope(data={"ended": await sessions.revoke(session, actor, user_id, session_id)})
