"""experiments.pause: while an experiment is paused, when, by whom and why

``{"at", "by", "automatic", "reason"}``, set by the pause and cleared when the experiment leaves
``paused``; ``automatic`` marks the guardrail monitor's pauses, so the console says "paused by a
guardrail" only when one did (a person's later pause is not the monitor's). ``NULL`` otherwise, and
for experiments paused before this migration.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column(
                "pause",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("pause")
