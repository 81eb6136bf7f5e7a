"""Environments: list (everyone), create and update (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from experimently.auth.deps import ActorDep
from experimently.deps import SessionDep
from experimently.environments import service
from experimently.environments.schemas import EnvironmentCreate, EnvironmentRead, EnvironmentUpdate
from experimently.kit.envelope import Envelope

router = APIRouter(prefix="/environments", tags=["environments"])


@router.get("", response_model=Envelope[list[EnvironmentRead]])
async def list_environments(actor: ActorDep, session: SessionDep) -> Envelope[list[EnvironmentRead]]:
    """List environments."""
    return Envelope(data=await service.list_environments(session, actor))


@router.post("", response_model=Envelope[EnvironmentRead], status_code=status.HTTP_201_CREATED)
async def create_environment(
    actor: ActorDep, session: SessionDep, body: EnvironmentCreate
) -> Envelope[EnvironmentRead]:
    """Create an environment (admin)."""
    return Envelope(data=await service.create_environment(session, actor, body))


@router.patch("/{key}", response_model=Envelope[EnvironmentRead])
async def update_environment(
    actor: ActorDep, session: SessionDep, key: str, body: EnvironmentUpdate
) -> Envelope[EnvironmentRead]:
    """Rename or re-describe an environment (admin); its key is immutable."""
    return Envelope(data=await service.update_environment(session, actor, key, body))
