"""Job leases (portable: a row per job, taken with a conditional UPDATE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.orm import UTCDateTime


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the last run ended
    # when the last run started, on any instance: a periodic run is due ``interval`` after it
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
