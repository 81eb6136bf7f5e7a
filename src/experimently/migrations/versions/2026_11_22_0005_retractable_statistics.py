"""aggregation keeps retractable statistics instead of per-unit rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:45:00

The statistics move into ``aggregation_state.snapshot`` (sums per metric, variant and day of first
exposure); ``metric_units`` goes. Every state is reset so the next aggregation run recomputes it from
the raw events. A downgrade recreates the empty table; the next run of the older code rebuilds it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reset_states() -> None:
    op.execute("UPDATE aggregation_state SET last_seq = 0, fingerprint = '', snapshot = NULL")


def upgrade() -> None:
    with op.batch_alter_table("metric_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_units_unit_id"))
    op.drop_table("metric_units")
    _reset_states()


def downgrade() -> None:
    op.create_table(
        "metric_units",
        sa.Column("experiment_key", sa.String(length=100), nullable=False),
        sa.Column("metric_key", sa.String(length=100), nullable=False),
        sa.Column("unit_id", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("exposed_us", sa.BigInteger(), nullable=False),
        sa.Column("exposed_day", sa.Integer(), nullable=False),
        sa.Column("multi_variant", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("pre_value", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_key", "metric_key", "unit_id", name=op.f("pk_metric_units")),
    )
    with op.batch_alter_table("metric_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_units_unit_id"), ["unit_id"], unique=False)
    _reset_states()
