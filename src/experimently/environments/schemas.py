"""Environment payloads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class EnvironmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    key: str = Field(pattern=KEY_PATTERN, description="slug, unique, immutable")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    is_production: bool = False


class EnvironmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_production: bool | None = None


class EnvironmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    description: str
    is_production: bool
    created_at: datetime
