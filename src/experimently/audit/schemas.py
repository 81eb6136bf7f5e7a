"""Audit read model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    action: str
    resource_type: str
    resource_id: str | None
    resource_label: str | None = Field(
        default=None,
        description=(
            "a readable name for the resource: a person's email, an environment's, an experiment's "
            "or a flag's key, an API key's name, a webhook's description (or its URL, shown whole only "
            "to those who manage webhooks); the name the record itself holds (as it was then), else "
            "the name it has now, else the newest one its records hold once it is deleted; null when "
            "nothing names it"
        ),
    )
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    diff: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    ip: str | None
    user_agent: str | None
