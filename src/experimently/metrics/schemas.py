"""Metric definition payloads and read models."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

KEY = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
CURRENCY = r"^[A-Z]{3}$"


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


class FormatType(StrEnum):
    COUNT = "count"
    PERCENT = "percent"
    NUMBER = "number"
    CURRENCY = "currency"
    DURATION = "duration"


class DurationUnit(StrEnum):
    MS = "ms"
    S = "s"


class MetricFormat(BaseModel):
    """How the metric's values are shown: ``count`` (whole numbers), ``percent`` (a rate shown x 100),
    ``number``, ``currency`` (with its ISO 4217 code) or ``duration`` (with the unit the values are in).
    Display only: the statistics never depend on it."""

    model_config = ConfigDict(extra="forbid")

    type: FormatType
    currency: str | None = Field(
        None, description="ISO 4217 code (3 upper-case letters); type currency only", examples=["EUR"]
    )
    duration_unit: DurationUnit | None = Field(None, description="unit of the values; type duration only")
    decimals: int | None = Field(None, ge=0, le=10, description="decimals to show; null: the console decides")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(CURRENCY, value):
            raise ValueError(
                f"currency must be an ISO 4217 code of 3 upper-case letters, e.g. EUR (got {value!r})"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MetricFormat:
        if self.type is FormatType.CURRENCY and self.currency is None:
            raise ValueError(
                'currency is required for format type "currency" (an ISO 4217 code such as "EUR")'
            )
        if self.type is not FormatType.CURRENCY and self.currency is not None:
            raise ValueError('currency is only allowed with format type "currency"')
        if self.type is FormatType.DURATION and self.duration_unit is None:
            raise ValueError('duration_unit is required for format type "duration" ("ms" or "s")')
        if self.type is not FormatType.DURATION and self.duration_unit is not None:
            raise ValueError('duration_unit is only allowed with format type "duration"')
        return self


DEFAULT_FORMAT = {"binomial": FormatType.PERCENT, "count": FormatType.COUNT}


def default_format(kind: str) -> MetricFormat:
    """Binomial -> percent, count -> count, sum/mean/ratio -> number."""
    return MetricFormat(type=DEFAULT_FORMAT.get(str(kind), FormatType.NUMBER))


def effective_format(kind: str, stored: dict[str, Any] | None) -> MetricFormat:
    """The stored format, or the default of the kind when none was set."""
    return MetricFormat.model_validate(stored) if stored else default_format(kind)


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
    format: MetricFormat | None = Field(
        None, description="how values are shown; omitted or null: the default of the kind"
    )


RATIO_NEEDS_DENOMINATOR = "denominator_event is required for ratio metrics"


class MetricCreate(MetricFields):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=200)
    kind: MetricKind
    event_name: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _ratio_needs_denominator(self) -> MetricCreate:
        if self.kind is MetricKind.RATIO and not self.denominator_event:
            # an error at the field, not at the body: the console marks the field that needs it
            raise ValidationError.from_exception_data(
                "MetricCreate",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("missing", RATIO_NEEDS_DENOMINATOR),
                        loc=("denominator_event",),
                        input=None,
                    )
                ],
            )
        return self


class MetricUpdate(MetricFields):
    """Every field optional; ``key`` cannot change."""

    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)


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
    format: MetricFormat
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _format_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return data | {"format": effective_format(data["kind"], data.get("format"))}
        return {
            name: getattr(data, name) for name in cls.model_fields if name != "format" and hasattr(data, name)
        } | {"format": effective_format(data.kind, getattr(data, "format", None))}


class MetricUsage(BaseModel):
    """One place a metric is used. Guarded rollouts: ``experiment_key`` is the rollout's aggregation
    key (``rollout:<id>``) and ``flag_key`` names the flag."""

    experiment_key: str
    experiment_name: str
    status: str
    role: Literal["primary", "secondary", "guardrail", "rollout_guardrail", "rollout_success"]
    flag_key: str | None = None


class SeriesPoint(BaseModel):
    day: str
    events: int
    units: int
    value_sum: float
