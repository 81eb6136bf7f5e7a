"""A guardrail breach: one row per (experiment, metric, variant) the monitor found significantly harmed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
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
