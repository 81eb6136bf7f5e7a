"""metric_definitions.format: how a metric's values are shown (count, percent, currency, duration)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # null: the default format of the metric's kind (see metrics.schemas.default_format)
    with op.batch_alter_table("metric_definitions") as batch:
        batch.add_column(
            sa.Column(
                "format",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("metric_definitions") as batch:
        batch.drop_column("format")
