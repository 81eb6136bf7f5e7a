"""Webhook API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from experimently.webhooks.outbox import EVENT_TYPES
from experimently.webhooks.urls import url_problem


def _url(value: str) -> str:
    problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _types(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    return sorted(set(values))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(default_factory=list, max_length=50, description="empty: every type")
    active: bool = True
    format: Literal["experimently", "slack"] = Field(
        default="experimently", description="slack: an incoming-webhook message (text and blocks)"
    )

    _check_url = field_validator("url")(_url)
    _check_types = field_validator("event_types")(_types)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, strict=True)  # 2, not "2" or true (read as 1)
    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(default=None, max_length=50)
    active: bool | None = None
    format: Literal["experimently", "slack"] | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _url(value)

    @field_validator("event_types")
    @classmethod
    def _check_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _types(value)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str
    event_types: list[str]
    active: bool
    format: str
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="shown only now: signs every delivery (HMAC-SHA256)")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
