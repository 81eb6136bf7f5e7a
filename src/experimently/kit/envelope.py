"""The success envelope ``{"data": ..., "meta": {...}}`` and pagination parameters."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    data: T
    meta: dict[str, Any] = Field(default_factory=dict)


class Page(BaseModel):
    """Offset pagination: ``limit`` (1-500) and ``offset``."""

    limit: int = 50
    offset: int = 0

    def meta(self, total: int) -> dict[str, Any]:
        return {"pagination": {"limit": self.limit, "offset": self.offset, "total": total}}


def page_params(
    limit: int = Query(50, ge=1, le=500, description="page size"),
    offset: int = Query(0, ge=0, le=1_000_000_000, description="rows to skip"),
) -> Page:
    return Page(limit=limit, offset=offset)
