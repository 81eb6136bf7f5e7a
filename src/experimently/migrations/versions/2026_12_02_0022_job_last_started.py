"""job_leases.last_started_at: when the job last started on any instance (once per interval)

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_leases") as batch:
        batch.add_column(sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_leases") as batch:
        batch.drop_column("last_started_at")
