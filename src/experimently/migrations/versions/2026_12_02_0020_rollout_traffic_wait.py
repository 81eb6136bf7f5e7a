"""guarded rollouts wait for traffic: max_wait_seconds (rollouts, safety settings), waiting_since

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guarded_rollouts") as batch:
        batch.add_column(sa.Column("max_wait_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("safety_settings") as batch:
        batch.add_column(sa.Column("max_wait_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safety_settings") as batch:
        batch.drop_column("max_wait_seconds")
    with op.batch_alter_table("guarded_rollouts") as batch:
        batch.drop_column("waiting_since")
        batch.drop_column("max_wait_seconds")
