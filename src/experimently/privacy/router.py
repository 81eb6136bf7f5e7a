"""Privacy requests: export a user's data as JSON, or erase it.

A user id may hold ``/`` (``org/42``): the routes take the rest of the path, so ``org%2F42`` (the server
sees the decoded path) reaches the user ``org/42`` instead of no route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope
from experimently.privacy import service

router = APIRouter(prefix="/privacy", tags=["privacy"])
UserId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/users/{user_id:path}/export", response_model=Envelope[dict[str, Any]])
async def export_user(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, user_id: UserId
) -> Envelope[dict[str, Any]]:
    """Everything stored about ``user_id``, per data source (admin)."""
    return Envelope(data=await service.export_user(session, runtime.privacy, actor, user_id))


@router.delete("/users/{user_id:path}", response_model=Envelope[dict[str, int]])
async def erase_user(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, user_id: UserId
) -> Envelope[dict[str, int]]:
    """Erase everything stored about ``user_id``; returns rows deleted per data source (admin)."""
    return Envelope(data=await service.erase_user(session, runtime.privacy, actor, user_id))
