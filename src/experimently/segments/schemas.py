"""Segment payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from experimently.flags.schemas import FLAG_KEY


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=FLAG_KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    conditions: list[dict[str, Any]] = Field(default_factory=list, max_length=200)


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    conditions: list[dict[str, Any]] | None = Field(default=None, max_length=200)


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    description: str
    conditions: list[dict[str, Any]]
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
