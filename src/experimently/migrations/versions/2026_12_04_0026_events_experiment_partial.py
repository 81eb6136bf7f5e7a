"""ix_events_experiment_time: only the events that carry an experiment key (a partial index)

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-04 21:30:00.000000

Every reader of the index asks for one experiment key (``experiment_key = ...``: the aggregation's
exposures and dirty units, the events API's filter), which implies ``experiment_key IS NOT NULL``, so a
partial index serves all of them. Events without a key (what ``track`` sends: most of the traffic)
no longer cost an index entry in the writers' serialised merge. On PostgreSQL the index of the
partitioned table is rebuilt on every partition (a pass over the stored events, once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["experiment_key", "occurred_at"]


def upgrade() -> None:
    op.drop_index("ix_events_experiment_time", table_name="events")
    keyed = sa.text("experiment_key IS NOT NULL")
    op.create_index(
        "ix_events_experiment_time", "events", _COLUMNS, postgresql_where=keyed, sqlite_where=keyed
    )


def downgrade() -> None:
    op.drop_index("ix_events_experiment_time", table_name="events")
    op.create_index("ix_events_experiment_time", "events", _COLUMNS)
