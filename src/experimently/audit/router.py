"""``GET /api/v1/audit-logs``: filters and pagination; admins and analysts only."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from experimently.audit import service
from experimently.audit.schemas import AuditRead
from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import ValidationFailed
from experimently.kit.clock import now
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.kit.instants import UtcDateTime

router = APIRouter(prefix="/audit-logs", tags=["audit"])
ACTION_HELP = "an action (flag.killed), several comma-separated, or every action of a kind (api_key.*)"
_KIND = re.compile(r"[^*,]+\.\*")  # a kind (any text without a star), then ".*"
MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def audit_filter(
    actor_id: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    action: Annotated[str | None, Query(description=ACTION_HELP)] = None,
    since: Annotated[UtcDateTime | None, Query(description="inclusive lower bound")] = None,
    until: Annotated[UtcDateTime | None, Query(description="exclusive upper bound")] = None,
) -> service.AuditFilter:
    """The filters the list and the export share."""
    if action is not None:
        for item in action.split(","):
            # "user.mfa_*", "*": a pattern this filter does not have matched nothing, silently
            if "*" in item and not _KIND.fullmatch(item.strip()):
                raise ValidationFailed(
                    f"'{item.strip()}' is not an action filter: name an action (flag.killed) or every "
                    "action of a kind (user.*)",
                    [
                        {
                            "path": "action",
                            "message": "'*' only stands for a whole action after its kind: user.*",
                        }
                    ],
                )
    return service.AuditFilter(actor_id, resource_type, resource_id, action, since, until)


FilterDep = Annotated[service.AuditFilter, Depends(audit_filter)]


@router.get("", response_model=Envelope[list[AuditRead]])
async def list_audit_logs(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    f: FilterDep,
) -> Envelope[list[AuditRead]]:
    """List audit records, newest first."""
    entries, total = await service.read_entries(session, actor, f, page.limit, page.offset)
    return Envelope(data=entries, meta=page.meta(total))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["ndjson"]: {}}, "description": "every record"}},
)
async def export_audit_logs(
    actor: ActorDep,
    runtime: RuntimeDep,
    f: FilterDep,
    format: Annotated[Literal["csv", "ndjson"], Query(description="CSV or one JSON record per line")] = "csv",
) -> StreamingResponse:
    """Every audit record matching the filters, newest first, as a download (no page limit); the
    export is itself recorded (``audit.exported``). Admins and analysts."""
    lines = await service.export(runtime.db, actor, f, format)
    name = f"experimently-audit-{now().strftime('%Y%m%dT%H%M%SZ')}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(lines, media_type=MEDIA[format], headers=headers)
