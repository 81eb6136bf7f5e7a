"""``GET /api/v1/audit-logs``: filters and pagination; admins and analysts only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from experimently.audit import service
from experimently.audit.schemas import AuditRead
from experimently.auth.deps import ActorDep
from experimently.deps import SessionDep
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.kit.instants import UtcDateTime

router = APIRouter(prefix="/audit-logs", tags=["audit"])


@router.get("", response_model=Envelope[list[AuditRead]])
async def list_audit_logs(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    actor_id: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    since: Annotated[UtcDateTime | None, Query(description="inclusive lower bound")] = None,
    until: Annotated[UtcDateTime | None, Query(description="exclusive upper bound")] = None,
) -> Envelope[list[AuditRead]]:
    """List audit records, newest first."""
    f = service.AuditFilter(actor_id, resource_type, resource_id, action, since, until)
    entries, total = await service.read_entries(session, actor, f, page.limit, page.offset)
    return Envelope(data=entries, meta=page.meta(total))
