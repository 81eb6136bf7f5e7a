"""Experiment, layer and assignment payloads. Cross-field rules (one control, weights summing to 100,
unique keys) are checked here so a 422 names the exact field."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from experimently.flags.schemas import FLAG_KEY, Percent, Tag, UnitValue
from experimently.kit.instants import UtcDateTime
from experimently_sdk.bucketing import BUCKETS

GuardrailAction = Literal["pause", "notify"]


class Status(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=FLAG_KEY)
    name: str = Field(default="", max_length=200)
    weight: float = Field(ge=0, le=100)
    is_control: bool = False
    payload: JsonValue = None


def check_variants(variants: list[Variant]) -> list[Variant]:
    if len(variants) < 2:
        raise ValueError("at least 2 variants are required")
    keys = [v.key for v in variants]
    if len(set(keys)) != len(keys):
        raise ValueError(f"variant keys must be unique: {keys}")
    controls = sum(v.is_control for v in variants)
    if controls != 1:
        raise ValueError(f"exactly one variant must be the control (found {controls})")
    if not math.isclose(sum(v.weight for v in variants), 100.0, abs_tol=1e-9):
        raise ValueError(f"weights must sum to 100 (got {sum(v.weight for v in variants)})")
    if any(round(v.weight, 2) != v.weight for v in variants):
        raise ValueError("weights take at most 2 decimals")
    return variants


class ExperimentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = Field(default="", max_length=5000)
    description: str = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    variants: list[Variant]
    traffic_allocation: float = Field(default=100.0, ge=0, le=100)
    targeting: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    bucket_by: str = Field(default="user_id", min_length=1, max_length=200)
    environment: str = Field(default="production", min_length=1, max_length=64)
    layer: str | None = Field(default=None, description="layer key")
    layer_share: Percent | None = Field(
        default=None, gt=0, le=100, description="percent of the layer's traffic"
    )
    primary_metric: str | None = None
    secondary_metrics: list[str] = Field(default_factory=list, max_length=50)
    guardrail_metrics: list[str] = Field(default_factory=list, max_length=50)
    guardrail_action: GuardrailAction = Field(
        default="pause", description="on a guardrail breach: pause the experiment, or only notify"
    )
    planned_start: UtcDateTime | None = None
    planned_end: UtcDateTime | None = None
    min_sample_size: int | None = Field(default=None, ge=1, le=1_000_000_000)

    _variants = field_validator("variants")(check_variants)

    @model_validator(mode="after")
    def _dates(self) -> ExperimentBase:
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            raise ValueError("planned_end must be after planned_start")
        if self.layer is not None and self.layer_share is None:
            self.layer_share = 100.0
        return self


class ExperimentCreate(ExperimentBase):
    key: str = Field(pattern=FLAG_KEY, description="unique, immutable")


class ExperimentUpdate(BaseModel):
    """All optional; ``version`` is the version being edited. What may change depends on the status."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    hypothesis: str | None = Field(default=None, max_length=5000)
    description: str | None = Field(default=None, max_length=5000)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    variants: list[Variant] | None = None
    traffic_allocation: float | None = Field(default=None, ge=0, le=100)
    targeting: list[dict[str, Any]] | None = Field(default=None, max_length=100)
    bucket_by: str | None = Field(default=None, min_length=1, max_length=200)
    environment: str | None = None
    layer: str | None = None
    layer_share: Percent | None = Field(default=None, gt=0, le=100)
    primary_metric: str | None = None
    secondary_metrics: list[str] | None = None
    guardrail_metrics: list[str] | None = None
    guardrail_action: GuardrailAction | None = None
    planned_start: UtcDateTime | None = None
    planned_end: UtcDateTime | None = None
    min_sample_size: int | None = Field(default=None, ge=1, le=1_000_000_000)

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[Variant] | None) -> list[Variant] | None:
        return None if variants is None else check_variants(variants)


class ShippedPlace(BaseModel):
    rule: str = Field(description="the rule's id, or `fallthrough`")
    variation: str = Field(description="the flag variation it serves from then on")


class ShippedFlag(BaseModel):
    key: str
    version: int = Field(description="the flag's version the shipping wrote")
    places: list[ShippedPlace] = Field(description="the rules and fallthrough now serving the variant")


class Shipped(BaseModel):
    variant: str
    at: datetime
    by: str | None = Field(description="the user or API key that shipped it")
    reason: str
    flags: list[ShippedFlag] = Field(
        description="the flags whose rules served the experiment in its environment and now serve the variant"
    )


class Pause(BaseModel):
    at: datetime
    by: str = Field(description="the user or API key that paused it; `system` for the guardrail monitor")
    automatic: bool = Field(description="paused by the guardrail monitor, not by a person or key")
    reason: str | None


class ShipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant: str = Field(min_length=1, max_length=100, description="the variant to ship, usually the winner")
    reason: str = Field(
        min_length=1, max_length=1000, pattern=r"\S", description="why this variant; kept in the history"
    )
    dry_run: bool = Field(
        default=False, description="go through every check, answer what would change, change nothing"
    )


class ExperimentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    hypothesis: str
    description: str
    owner_id: str | None
    tags: list[str]
    variants: list[dict[str, Any]]
    traffic_allocation: float
    targeting: list[dict[str, Any]]
    bucket_by: str
    environment: str
    layer_key: str | None
    layer_range_start: int | None
    layer_range_end: int | None
    primary_metric: str | None
    secondary_metrics: list[str]
    guardrail_metrics: list[str]
    guardrail_action: str
    planned_start: datetime | None
    planned_end: datetime | None
    min_sample_size: int | None
    status: Status
    salt: str
    version: int
    started_at: datetime | None
    ended_at: datetime | None
    reweighted_at: datetime | None = Field(
        default=None,
        description="when the weights last changed after the start (SDKs then ask the server for "
        "units they have not seen: docs/experiments.md)",
    )
    shipped: Shipped | None = None
    pause: Pause | None = Field(default=None, description="while paused: when, by whom, why")
    created_at: datetime
    updated_at: datetime


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a mistyped "reasn" was dropped without a word

    reason: str | None = Field(default=None, max_length=1000)


class LayerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=FLAG_KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class LayerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    description: str
    salt: str
    created_at: datetime
    allocations: list[dict[str, Any]] = Field(default_factory=list)
    free_buckets: int = BUCKETS


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: UnitValue = Field(default=None, description="value of the bucketing attribute")
    user_id: UnitValue = None
    context: dict[str, JsonValue] = Field(default_factory=dict)


class BulkAssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[AssignRequest] = Field(min_length=1, max_length=1000)


class AssignmentRead(BaseModel):
    experiment_key: str
    unit_id: str | None
    in_experiment: bool
    variant: str | None
    payload: JsonValue = None
    reason: str
    sticky: bool = False


class AssignmentHistoryItem(BaseModel):
    experiment_key: str
    variant: str
    environment: str
    assigned_at: str = Field(description="ISO 8601, UTC")
