"""A guardrail breach: one row per (experiment, metric, variant) the monitor found significantly harmed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.kit.orm import JSONType, UTCDateTime


class GuardrailBreach(Base):
    __tablename__ = "guardrail_breaches"
    __table_args__ = (
        UniqueConstraint(
            "experiment_id", "metric_key", "variant", name="uq_guardrail_breaches_experiment_metric_variant"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    experiment_key: Mapped[str] = mapped_column(String(100))
    metric_key: Mapped[str] = mapped_column(String(100))
    variant: Mapped[str] = mapped_column(String(100))
    # "paused": the monitor paused the experiment; "notified": guardrail_action was notify, or the
    # experiment was no longer running when the breach was found
    action: Mapped[str] = mapped_column(String(10))
    relative_lift: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    # the comparison as the monitor saw it (units, means, intervals, engine, alpha)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class GuardedRollout(Base):
    """A flag rollout in one environment watched by guardrail metrics (``safety.rollouts``): the new
    ``variation`` against ``control`` (what the rest are served), step by step, until it is released
    (100% without a breach), rolled back, paused or cancelled."""

    __tablename__ = "guarded_rollouts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    flag_key: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(64))
    variation: Mapped[str] = mapped_column(String(100))
    control: Mapped[str] = mapped_column(String(100))
    # the schedule that moves the percentage (None: a manual rollout, advanced through the API)
    schedule_id: Mapped[str | None] = mapped_column(String(36))
    percentage: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)  # steps applied so far (the comparison epoch)
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    guardrail_metrics: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    success_metric: Mapped[str | None] = mapped_column(String(100))
    min_units: Mapped[int] = mapped_column(Integer, default=100)
    alpha: Mapped[float] = mapped_column(Float, default=0.05)
    action: Mapped[str] = mapped_column(String(10), default="rollback")  # rollback | pause | notify
    # a scheduled step held for traffic longer than this pauses the rollout (None: hold indefinitely)
    max_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    # since when the next scheduled step is due but held: the current step lacks min_units per group
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # running | released | rolled_back | paused | cancelled
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    pre_state: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the environment before the rollout
    last_check: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # what the monitor last saw
    # one point per check (time, step, percentage, units, each metric's lift, interval and p): the chart
    history: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    breaches: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # what it found and did
    outcome: Mapped[str | None] = mapped_column(String(2000))  # in words, once it ended
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SafetySettings(Base):
    """Defaults for every guarded rollout in an environment (``flag_key`` empty), or for one flag's
    rollouts there (overriding the environment's)."""

    __tablename__ = "safety_settings"
    __table_args__ = (
        UniqueConstraint("environment", "flag_key", name="uq_safety_settings_environment_flag"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    environment: Mapped[str] = mapped_column(String(64))
    flag_key: Mapped[str] = mapped_column(String(100), default="")
    guardrail_metrics: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    success_metric: Mapped[str | None] = mapped_column(String(100))
    min_units: Mapped[int | None] = mapped_column(Integer)
    alpha: Mapped[float | None] = mapped_column(Float)
    action: Mapped[str | None] = mapped_column(String(10))
    max_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
