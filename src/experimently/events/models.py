"""Raw events and the idempotency keys.

``events`` is append-only. On PostgreSQL the migration creates it partitioned by day on
``occurred_at`` (primary key ``(seq, occurred_at)``); on SQLite it is a plain table. ``seq`` is the
ingestion sequence: writers are serialised, so a committed ``seq`` is never followed by a smaller one
committed later, which is what the aggregation watermark relies on. ``ts_us`` repeats ``occurred_at``
as integer microseconds since the epoch so window arithmetic is the same, exact SQL on both databases.

``event_keys`` holds every stored ``event_id`` once (a partitioned table cannot carry a unique index
without the partition key): the writer inserts into it first and stores only the events whose key
was new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.orm import JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str | None] = mapped_column(String(64))
    experiment_key: Mapped[str | None] = mapped_column(String(100))
    variant: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ts_us: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # partial, WHERE experiment_key IS NOT NULL (migration 0026): every reader asks for one key.
        # Written without the dialect options (see EventKey.occurred_at).
        Index("ix_events_experiment_time", "experiment_key", "occurred_at"),
        Index("ix_events_user_time", "user_id", "occurred_at"),
        # by seq, not occurred_at: new entries go at the right end of their name's range (0028)
        Index("ix_events_name_seq", "name", "seq"),
    )


class EventKey(Base):
    __tablename__ = "event_keys"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # indexed for retention's purge only: BRIN on PostgreSQL (next to free for the writers' merge;
    # keys are appended in arrival order, close to event time), a B-tree on SQLite (migration 0024).
    # The migrations own the schema (nothing calls create_all); written here without the dialect
    # option, which would import the PostgreSQL dialect into every embedded start.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
