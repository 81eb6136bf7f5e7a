"""Metric definitions, the per-unit aggregate rows and the aggregation watermark.

``metric_units`` holds one row per (experiment, metric, unit): the unit's variant at first exposure,
its metric value in the attribution window, its CUPED pre-period value and (ratios) its denominator.
Sufficient statistics are a GROUP BY over it, so recomputing a unit's row from its events is all an
incremental run needs to do to stay exactly equal to a recompute from scratch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Text
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
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MetricUnit(Base):
    __tablename__ = "metric_units"

    experiment_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    variant: Mapped[str] = mapped_column(String(100))
    exposed_us: Mapped[int] = mapped_column(BigInteger)
    exposed_day: Mapped[int] = mapped_column(Integer)
    multi_variant: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[float | None] = mapped_column(Float)
    pre_value: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)


class AggregationState(Base):
    __tablename__ = "aggregation_state"

    experiment_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    aggregated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the sufficient statistics as of ``aggregated_at`` (see aggregation.snapshot_of): the results
    # endpoint reads this one row instead of grouping a million per-unit rows per request
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
