"""Event read models (ingestion itself is validated field by field in ``validation.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

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
