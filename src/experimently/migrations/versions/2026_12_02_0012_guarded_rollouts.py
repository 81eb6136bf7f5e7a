"""guarded rollouts, safety settings, webhooks.format

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 04:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "guarded_rollouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flag_id", sa.String(length=36), nullable=False),
        sa.Column("flag_key", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("variation", sa.String(length=100), nullable=False),
        sa.Column("control", sa.String(length=100), nullable=False),
        sa.Column("schedule_id", sa.String(length=36), nullable=True),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("guardrail_metrics", JSON, nullable=False),
        sa.Column("success_metric", sa.String(length=100), nullable=True),
        sa.Column("min_units", sa.Integer(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pre_state", JSON, nullable=False),
        sa.Column("last_check", JSON, nullable=True),
        sa.Column("history", JSON, nullable=False),
        sa.Column("breaches", JSON, nullable=False),
        sa.Column("outcome", sa.String(length=2000), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name=op.f("fk_guarded_rollouts_flag_id_flags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarded_rollouts")),
    )
    with op.batch_alter_table("guarded_rollouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guarded_rollouts_flag_id"), ["flag_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_guarded_rollouts_status"), ["status"], unique=False)

    op.create_table(
        "safety_settings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("flag_key", sa.String(length=100), nullable=False),
        sa.Column("guardrail_metrics", JSON, nullable=False),
        sa.Column("success_metric", sa.String(length=100), nullable=True),
        sa.Column("min_units", sa.Integer(), nullable=True),
        sa.Column("alpha", sa.Float(), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_settings")),
        sa.UniqueConstraint("environment", "flag_key", name=op.f("uq_safety_settings_environment_flag")),
    )

    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=20), server_default="experimently", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("format")
    op.drop_table("safety_settings")
    with op.batch_alter_table("guarded_rollouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guarded_rollouts_status"))
        batch_op.drop_index(batch_op.f("ix_guarded_rollouts_flag_id"))
    op.drop_table("guarded_rollouts")
