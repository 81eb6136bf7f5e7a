"""experiments.reweighted_at: when weights last changed after the experiment had started

SDK clients evaluate experiments locally from the deterministic buckets; once weights change after a
start, units stored under the old weights may hold a variant the buckets no longer give, and the SDK
payload tells clients to ask the server for those experiments.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("reweighted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("reweighted_at")
