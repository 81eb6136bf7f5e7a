"""guardrail monitor: experiments.guardrail_action and guardrail_breaches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 17:48:58.364439
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guardrail_breaches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_key", sa.String(length=100), nullable=False),
        sa.Column("metric_key", sa.String(length=100), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("relative_lift", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_guardrail_breaches_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardrail_breaches")),
        sa.UniqueConstraint(
            "experiment_id",
            "metric_key",
            "variant",
            name=op.f("uq_guardrail_breaches_experiment_metric_variant"),
        ),
    )
    with op.batch_alter_table("guardrail_breaches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardrail_breaches_experiment_id"), ["experiment_id"], unique=False
        )

    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guardrail_action", sa.String(length=10), server_default="pause", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("guardrail_action")

    with op.batch_alter_table("guardrail_breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardrail_breaches_experiment_id"))

    op.drop_table("guardrail_breaches")
