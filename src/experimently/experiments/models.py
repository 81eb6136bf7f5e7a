"""Experiment, layer and assignment tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.kit.orm import JSONType, UTCDateTime


class Layer(Base):
    """A mutual-exclusion layer: experiments in it own disjoint ranges of the layer's 10,000 buckets."""

    __tablename__ = "layers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    salt: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    variants: Mapped[list[Any]] = mapped_column(JSONType)
    traffic_allocation: Mapped[float] = mapped_column(Float, default=100.0)
    targeting: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    bucket_by: Mapped[str] = mapped_column(String(200), default="user_id")
    environment: Mapped[str] = mapped_column(String(64))
    layer_key: Mapped[str | None] = mapped_column(String(100), index=True)
    layer_range_start: Mapped[int | None] = mapped_column(Integer)
    layer_range_end: Mapped[int | None] = mapped_column(Integer)
    primary_metric: Mapped[str | None] = mapped_column(String(100))
    secondary_metrics: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    guardrail_metrics: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    min_sample_size: Mapped[int | None] = mapped_column(Integer)
    # what the guardrail monitor does on a breach: "pause" the experiment or only "notify"
    guardrail_action: Mapped[str] = mapped_column(String(10), default="pause", server_default="pause")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    salt: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # weights changed after the start: stored assignments may differ from the deterministic buckets
    reweighted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the variant shipped after the experiment (``{"variant", "at", "by", "reason", "flags"}``), if any
    shipped: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # while paused: ``{"at", "by", "automatic", "reason"}`` (the guardrail monitor's pauses are automatic)
    pause: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Assignment(Base):
    """The sticky record: a unit's first assignment, returned from then on."""

    __tablename__ = "assignments"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    variant: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (Index("ix_assignments_unit", "unit_id"),)
