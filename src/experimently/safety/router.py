"""``GET /experiments/{ref}/guardrail-breaches``: what the guardrail monitor found, and did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from experimently.deps import ActorDep, SessionDep
from experimently.experiments import service as experiments
from experimently.kit.envelope import Envelope
from experimently.safety.guardrails import list_breaches

router = APIRouter(tags=["experiments"])


class BreachRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    metric_key: str
    variant: str
    action: str
    relative_lift: float | None
    p_value: float | None
    details: dict[str, Any]
    detected_at: datetime


@router.get("/experiments/{ref}/guardrail-breaches", response_model=Envelope[list[BreachRead]])
async def breaches(actor: ActorDep, session: SessionDep, ref: str) -> Envelope[list[BreachRead]]:
    """Guardrail breaches of the experiment, oldest first: metric, variant, the action taken (paused or
    notified), relative lift and always-valid p-value, and the comparison the monitor saw."""
    exp = await experiments.get(session, actor, ref)
    rows = await list_breaches(session, exp.id)
    return Envelope(data=[BreachRead.model_validate(r) for r in rows], meta={"total": len(rows)})
