"""Segments CRUD."""

from __future__ import annotations

from fastapi import APIRouter, status

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope
from experimently.segments import service
from experimently.segments.schemas import SegmentCreate, SegmentRead, SegmentUpdate

router = APIRouter(prefix="/segments", tags=["segments"])


@router.get("", response_model=Envelope[list[SegmentRead]])
async def list_segments(actor: ActorDep, session: SessionDep) -> Envelope[list[SegmentRead]]:
    """List segments."""
    return Envelope(data=await service.list_all(session, actor))


@router.post("", response_model=Envelope[SegmentRead], status_code=status.HTTP_201_CREATED)
async def create_segment(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, body: SegmentCreate
) -> Envelope[SegmentRead]:
    """Create a segment (conditions in the targeting language)."""
    return Envelope(data=await service.create(session, runtime.cache, actor, body))


@router.get("/{key}", response_model=Envelope[SegmentRead])
async def get_segment(actor: ActorDep, session: SessionDep, key: str) -> Envelope[SegmentRead]:
    """One segment."""
    return Envelope(data=SegmentRead.model_validate(await service.get(session, actor, key)))


@router.patch("/{key}", response_model=Envelope[SegmentRead])
async def update_segment(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: SegmentUpdate
) -> Envelope[SegmentRead]:
    """Change a segment; ``version`` must be current (409 when stale)."""
    return Envelope(data=await service.update(session, runtime.cache, actor, key, body))


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_segment(actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str) -> None:
    """Delete a segment; 409 naming its users when anything still references it."""
    await service.delete(session, runtime.cache, actor, key, runtime.segment_users)
