"""Metric definition payloads and read models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


class MetricKind(StrEnum):
    BINOMIAL = "binomial"
    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    RATIO = "ratio"


class Direction(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class Aggregation(StrEnum):
    COUNT = "count"
    SUM = "sum"


class MetricFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    kind: MetricKind | None = None
    event_name: str | None = Field(None, min_length=1, max_length=100)
    numerator_aggregation: Aggregation | None = None
    denominator_event: str | None = Field(None, min_length=1, max_length=100)
    denominator_aggregation: Aggregation | None = None
    conditions: list[dict[str, Any]] | None = Field(None, max_length=50)
    attribution_window_hours: int | None = Field(None, ge=1, le=24 * 365)
    direction: Direction | None = None
    winsorize_cap: float | None = Field(None, gt=0, allow_inf_nan=False)
    cuped_pre_window_days: int | None = Field(None, ge=0, le=365)


class MetricCreate(MetricFields):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=200)
    kind: MetricKind
    event_name: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _ratio_needs_denominator(self) -> MetricCreate:
        if self.kind is MetricKind.RATIO and not self.denominator_event:
            raise ValueError("denominator_event is required for ratio metrics")
        return self


class MetricUpdate(MetricFields):
    """Every field optional; ``key`` cannot change."""

    version: int = Field(ge=1)


class MetricRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    description: str
    kind: MetricKind
    event_name: str
    numerator_aggregation: Aggregation
    denominator_event: str | None
    denominator_aggregation: Aggregation
    conditions: list[dict[str, Any]]
    attribution_window_hours: int | None
    direction: Direction
    winsorize_cap: float | None
    cuped_pre_window_days: int
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class SeriesPoint(BaseModel):
    day: str
    events: int
    units: int
    value_sum: float
