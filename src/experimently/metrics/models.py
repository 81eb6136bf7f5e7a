"""Metric definitions and the aggregation state of each experiment.

``aggregation_state`` holds, per experiment, the watermark (``last_seq``), the fingerprint of the
definitions the statistics were computed with, and the statistics themselves (``snapshot``): sums per
(metric, variant, day of first exposure), no per-unit rows (see ``metrics.aggregation``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.kit.orm import JSONType, UTCDateTime


class MetricDefinition(Base):
    __tablename__ = "metric_definitions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    event_name: Mapped[str] = mapped_column(String(100))
    numerator_aggregation: Mapped[str] = mapped_column(String(10), default="count")
    denominator_event: Mapped[str | None] = mapped_column(String(100))
    denominator_aggregation: Mapped[str] = mapped_column(String(10), default="count")
    conditions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    attribution_window_hours: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(10), default="higher")
    winsorize_cap: Mapped[float | None] = mapped_column(Float)
    cuped_pre_window_days: Mapped[int] = mapped_column(Integer, default=0)
    # how values are shown; null: the default of the kind (metrics.schemas.default_format)
    format: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AggregationState(Base):
    __tablename__ = "aggregation_state"

    experiment_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    aggregated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the sufficient statistics as of ``last_seq`` (layout: aggregation.FORMAT), which incremental runs
    # and privacy erasure add to and retract from, and the results endpoint reads
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
