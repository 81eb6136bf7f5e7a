"""Event read models (ingestion itself is validated field by field in ``validation.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1_000


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    event_id: str
    name: str
    user_id: str
    environment: str | None
    experiment_key: str | None
    variant: str | None
    value: float | None
    properties: dict[str, Any]
    occurred_at: datetime
    received_at: datetime


class IngestRead(BaseModel):
    accepted: int
    rejected: list[dict[str, Any]]
    event_ids: list[str] | None = Field(
        default=None, description="`POST /events` only: the stored event's id (given or assigned)"
    )


class RejectedReason(BaseModel):
    reason: str
    count: int


class IngestHealthRead(BaseModel):
    """Ingestion health. ``accepted_*`` and ``rejected_last_hour`` are counted by the instance that
    answers; ``queue_depth`` and ``oldest_queued_seconds`` come from the shared queue."""

    accepted_per_second: float
    accepted_last_hour: int
    queue_depth: int
    oldest_queued_seconds: float | None
    rejected_last_hour: list[RejectedReason]
    window_seconds: int
