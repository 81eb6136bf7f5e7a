"""Guarded rollout and safety settings API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from experimently.flags.schemas import Percent, RolloutStep, check_steps

Action = Literal["rollback", "pause", "notify"]
# units per group before a decision: at most a billion (the columns are 32-bit integers; a minimum no
# rollout reaches would never decide anything)
MAX_MIN_UNITS = 1_000_000_000


class GuardFields(BaseModel):
    """Each field left out comes from the flag's safety settings in the environment, then the
    environment's, then the server's defaults (GUARDRAIL_ALPHA, GUARDRAIL_MIN_UNITS, rollback)."""

    guardrail_metrics: list[str] | None = Field(default=None, max_length=20)
    success_metric: str | None = Field(default=None, max_length=100)
    min_units: int | None = Field(
        default=None, ge=2, le=MAX_MIN_UNITS, description="units per group before any decision"
    )
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    action: Action | None = Field(default=None, description="on a breach: rollback (default), pause, notify")
    max_wait_seconds: int | None = Field(
        default=None,
        ge=60,
        le=90 * 86_400,
        description=(
            "a scheduled step held for traffic (the current step below min_units per group) longer than "
            "this pauses the rollout and announces it; unset: hold until the traffic comes"
        ),
    )


class GuardedRolloutCreate(GuardFields):
    model_config = ConfigDict(extra="forbid")

    environment: str
    variation: str = Field(description="the variation being rolled out; the rest keep the off variation")
    steps: list[RolloutStep] | None = Field(
        default=None, min_length=1, max_length=50, description="a schedule (each step at its time)"
    )
    percentage: Percent | None = Field(
        default=None, gt=0, le=100, description="a manual rollout: this percentage now, raised by hand"
    )

    @model_validator(mode="after")
    def _one_mode(self) -> GuardedRolloutCreate:
        if (self.steps is None) == (self.percentage is None):
            raise ValueError("give either steps (a scheduled rollout) or percentage (a manual one)")
        if self.steps is not None:
            check_steps(self.steps)
        return self


class GuardedRolloutAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percentage: Percent = Field(gt=0, le=100)


class GuardedRolloutStep(BaseModel):
    at: datetime = Field(description="when the step is planned (not before)")
    percentage: float
    applied_at: datetime | None = Field(description="when it was applied (null: not yet)")


class GuardedRolloutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    flag_key: str
    environment: str
    variation: str
    control: str
    schedule_id: str | None
    percentage: float
    step: int
    step_started_at: datetime | None
    guardrail_metrics: list[str]
    success_metric: str | None
    min_units: int
    alpha: float
    action: str
    max_wait_seconds: int | None
    status: str = Field(description="running, released, rolled_back, paused or cancelled")
    hold: Literal["waiting_for_traffic"] | None = Field(
        default=None,
        description="running but not advancing: the next step is due and the current one lacks min_units",
    )
    waiting_since: datetime | None = Field(
        description="since when the next step waits: its planned time, or the current step's start if later"
    )
    steps: list[GuardedRolloutStep] | None = Field(
        default=None, description="a scheduled rollout's steps (null: a manual rollout)"
    )
    next_step_at: datetime | None = Field(default=None, description="when the next step is planned")
    last_check: dict[str, Any] | None = Field(description="what the monitor saw at its last check")
    breaches: list[dict[str, Any]] = Field(description="breaches found and what was done")
    history: list[dict[str, Any]] = Field(
        description="one point per check, oldest first (at most 500): the progress and guardrail chart"
    )
    outcome: str | None
    created_by: str | None
    created_at: datetime
    ended_at: datetime | None


class SafetySettingsUpdate(GuardFields):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None,
        ge=0,
        strict=True,
        description="the version read: 0 (what a GET answers before any write) or absent for the first write",
    )


class SafetySettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    environment: str
    flag_key: str | None = Field(description="null: the environment's defaults")
    guardrail_metrics: list[str]
    success_metric: str | None
    min_units: int | None
    alpha: float | None
    action: str | None
    max_wait_seconds: int | None = None
    version: int
    updated_at: datetime | None
