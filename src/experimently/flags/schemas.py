"""Flag, environment-configuration, evaluation and rollout-schedule payloads.

Shapes are checked here; targeting semantics (operators, values, references, cycles) are checked by the
shared engine (``experimently_sdk.validate_flag``) so the SDKs and the server can never disagree."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    field_validator,
)

from experimently.kit.clock import iso, now
from experimently.kit.instants import UtcDateTime
from experimently_sdk import FlagType  # the engine owns the flag-type vocabulary

FLAG_KEY = r"^[a-z0-9][a-z0-9._-]{0,99}$"
# a label on a flag or an experiment: short, like the keys and names beside it
Tag = Annotated[str, Field(max_length=100)]


def _hundredths(value: float) -> float:
    if round(value, 2) != value:
        raise ValueError("at most 2 decimals: traffic is split in hundredths of a percent")
    return value


# a share of traffic in percent, as the buckets can split it (rule weights say the same)
Percent = Annotated[float, AfterValidator(_hundredths)]


class Variation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=100)
    value: JsonValue
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class EnvironmentConfig(BaseModel):
    """One environment's targeting. Conditions and serve blocks are validated by the engine."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = False  # "yes" or 1 is a 422, as the SDKs refuse such a flag document
    off_variation: str | None = None
    targets: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    rules: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    fallthrough: dict[str, Any] | None = None
    prerequisites: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    bucket_by: str = Field(default="user_id", min_length=1, max_length=200)


class FlagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=FLAG_KEY, description="slug, unique, immutable")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    type: FlagType = FlagType.BOOLEAN
    variations: list[Variation] | None = Field(default=None, min_length=1, max_length=100)
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    salt: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return sorted({t.strip() for t in tags if t.strip()})


class FlagUpdate(BaseModel):
    """Every field optional; ``version`` is the version being edited (409 when stale)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    variations: list[Variation] | None = Field(default=None, min_length=1, max_length=100)
    environments: dict[str, EnvironmentConfig] | None = None


class EnvironmentUpdate(EnvironmentConfig):
    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    description: str
    tags: list[str]
    type: FlagType
    variations: list[dict[str, Any]]
    environments: dict[str, dict[str, Any]]
    salt: str
    owner_id: str | None
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    client_visible: bool = False


class KillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a mistyped "reasn" was dropped without a word

    reason: str | None = Field(default=None, max_length=1000)


# A unit or user id as a request may give it: any JSON scalar, bucketed as the engine buckets it
# (``true`` as "true", ``7.0`` as "7"), so the server's answer is the SDKs' for the same value.
def _scalar(value: Any) -> Any:
    """One clear error for a list or an object, not one per member of the union below."""
    if isinstance(value, list | dict):
        raise ValueError("must be a string, a number, a boolean or null (a JSON scalar)")
    return value


# a unit or user id: any JSON scalar, bucketed as the SDKs bucket it
UnitValue = Annotated[str | int | float | bool | None, BeforeValidator(_scalar)]


def _finite(value: JsonValue) -> JsonValue:
    """A default is answered back as JSON, which has no NaN or infinity (``1e400`` made /evaluate a
    500). The input guard leaves these hot endpoints' bodies to their models (input_guard)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(
                "must be a finite number: JSON has no NaN or infinity, and a number beyond about 1.8e308 "
                "is out of range"
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UnitValue = None
    context: dict[str, JsonValue] = Field(default_factory=dict)
    default: Annotated[JsonValue, AfterValidator(_finite)] = None


class BatchUser(BaseModel):
    user_id: UnitValue = None
    context: dict[str, JsonValue] = Field(default_factory=dict)


class BatchEvaluateRequest(BaseModel):
    """Either ``flag_key`` with ``users`` (one flag, many users) or ``user_id``/``context`` (all flags)."""

    model_config = ConfigDict(extra="forbid")

    flag_key: str | None = None
    users: list[BatchUser] | None = Field(default=None, max_length=10_000)
    user_id: UnitValue = None
    context: dict[str, JsonValue] = Field(default_factory=dict)


class RolloutStep(BaseModel):
    at: UtcDateTime
    percentage: Percent = Field(ge=0, le=100)


PAST_GRACE = timedelta(minutes=5)  # a step "now" from a form filled in a few minutes ago is not past


def check_steps(steps: list[RolloutStep]) -> list[RolloutStep]:
    """A schedule's steps: strictly increasing, none in the past (beyond :data:`PAST_GRACE`). A past
    step would apply at once, so a date typed a year wrong would take a rollout to its later
    percentages in one go instead of gradually."""
    if any(b.at <= a.at for a, b in itertools.pairwise(steps)):
        raise ValueError("step times must be strictly increasing")
    cutoff = now() - PAST_GRACE
    past = [i for i, step in enumerate(steps) if step.at < cutoff]
    if past:
        which = f"step {past[0]}" if len(past) == 1 else f"steps {past[0]} to {past[-1]}"
        raise ValueError(
            f"{which} in the past (before {iso(cutoff)}): a past step applies at once; start from now"
        )
    return steps


class RolloutScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str
    variation: str = Field(description="the variation being rolled out; the rest get the off variation")
    steps: list[RolloutStep] = Field(min_length=1, max_length=50)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[RolloutStep]) -> list[RolloutStep]:
        return check_steps(steps)


class RolloutScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    flag_id: str
    environment: str
    variation: str
    steps: list[dict[str, Any]]
    next_step: int
    status: str
    created_by: str | None
    created_at: datetime
    rollout_id: str | None = Field(
        default=None,
        description="the guarded rollout this schedule belongs to (it created the schedule and moves it): "
        "stop it through that rollout's cancel, not the schedule's",
    )


class ShippedFrom(BaseModel):
    experiment: str = Field(description="the experiment whose variant the flag's last change shipped")
    variant: str
    environment: str = Field(description="the environment whose rules it changed (the experiment's)")
    at: datetime


class StaleFlag(BaseModel):
    key: str
    name: str
    owner_id: str | None
    updated_at: datetime
    days_unchanged: int
    serving: dict[str, str | None] = Field(
        description="per environment, the one variation served to everyone, or null when it varies"
    )
    reason: Literal["rolled_out", "shipped"] = Field(
        description="`rolled_out`: one variation to everyone in every environment; `shipped`: its last "
        "change shipped an experiment's variant (the rules that served the experiment serve the winner)"
    )
    shipped: ShippedFrom | None = Field(
        default=None, description="the experiment its last change shipped, if it was a shipping"
    )


class OwnershipTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str = Field(min_length=1, max_length=36, description="the id of the user who will own it")


class EvaluationRead(BaseModel):
    """One evaluation (the engine's result; evaluation never fails: errors are in ``error_code``)."""

    flag_key: str
    value: JsonValue = Field(description="the served value, or the default on error")
    variation: str | None
    reason: str = Field(
        description="why: TARGET_MATCH, RULE_MATCH, FALLTHROUGH, DISABLED, EXPERIMENT, ERROR..."
    )
    rule_id: str | None
    rule_index: int | None
    error_code: str | None = Field(
        description="FLAG_NOT_FOUND, INVALID_CONTEXT, TYPE_MISMATCH, PARSE_ERROR, GENERAL"
    )
    bucket: int | None
    experiment_key: str | None
    experiment_variant: str | None
    prerequisite_failed: str | None


class BatchEvaluationRead(BaseModel):
    """``flag_key`` + ``results`` (one flag, many users) or ``user_id`` + ``flags`` (one user, all flags)."""

    flag_key: str | None = None
    results: list[EvaluationRead] | None = None
    user_id: str | None = None
    flags: dict[str, EvaluationRead] | None = None
