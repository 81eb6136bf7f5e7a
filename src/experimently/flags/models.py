"""Flag and rollout-schedule tables. Per-environment configuration is one JSON document per environment
key (``environments``), validated by the shared engine before it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.kit.orm import JSONType, UTCDateTime


class Flag(Base):
    __tablename__ = "flags"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    type: Mapped[str] = mapped_column(String(20))
    variations: Mapped[list[Any]] = mapped_column(JSONType)
    environments: Mapped[dict[str, Any]] = mapped_column(JSONType)
    salt: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # visible to client-side SDK keys through POST /sdk/evaluate (see docs/sdk-js.md)
    client_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class RolloutSchedule(Base):
    __tablename__ = "rollout_schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    environment: Mapped[str] = mapped_column(String(64))
    variation: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[Any]] = mapped_column(JSONType)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
