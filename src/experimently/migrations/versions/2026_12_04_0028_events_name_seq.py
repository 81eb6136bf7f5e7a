"""events: the name index ordered by ``seq`` (ix_events_name_seq) instead of ``occurred_at``

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-04 22:00:00.000000

No query reads the index's second column as ``occurred_at``: the daily series and the events API
filter on ``ts_us`` and order by ``seq``. Ordered by ``seq``, which only grows, a new event's entry goes
at the right end of its name's range instead of at the place of its client timestamp among all the
events of that name, so the writers' serialised merge touches a few hot pages per name rather than
pages scattered over the last hours; ``GET /events?name=`` (newest first) reads it backwards. On
PostgreSQL the index of the partitioned table is rebuilt on every partition (a pass over the stored
events, once).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_events_name_time", table_name="events")
    op.create_index("ix_events_name_seq", "events", ["name", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_name_seq", table_name="events")
    op.create_index("ix_events_name_time", "events", ["name", "occurred_at"])
