"""event_keys.occurred_at: a BRIN index on PostgreSQL instead of a B-tree

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-04 21:00:00.000000

The index serves one statement, retention's ``DELETE FROM event_keys WHERE occurred_at < cutoff``
(once a day). A B-tree entry costs every stored event a search and an insert in the writers'
serialised merge; a BRIN index keeps one summary per 128 pages of this append-only table (keys are
written in arrival order, close to event time) and costs an insert next to nothing. SQLite has no
BRIN: it keeps its B-tree.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_event_keys_occurred_at", table_name="event_keys")
    op.create_index("ix_event_keys_occurred_at", "event_keys", ["occurred_at"], postgresql_using="brin")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_event_keys_occurred_at", table_name="event_keys")
    op.create_index("ix_event_keys_occurred_at", "event_keys", ["occurred_at"])
