"""experiments.shipped: the variant an experiment shipped, when, by whom, through which flags

``POST /experiments/{ref}/ship`` records the decision on the experiment (``{"variant", "at", "by",
"reason", "flags"}``); the flag rules that served the experiment serve the variant's variation from
then on. ``NULL`` for an experiment that shipped nothing.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column(
                "shipped",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("shipped")
