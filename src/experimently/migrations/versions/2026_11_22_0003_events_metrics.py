"""events (partitioned by day on PostgreSQL), event keys, metric definitions, per-unit aggregates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:06:54.723280
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PG_EVENTS = [
    "CREATE SEQUENCE events_seq_seq",
    """CREATE TABLE events (
        seq BIGINT NOT NULL DEFAULT nextval('events_seq_seq'),
        event_id VARCHAR(128) NOT NULL,
        name VARCHAR(100) NOT NULL,
        user_id VARCHAR(200) NOT NULL,
        environment VARCHAR(64),
        experiment_key VARCHAR(100),
        variant VARCHAR(100),
        value DOUBLE PRECISION,
        properties JSONB NOT NULL,
        occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
        ts_us BIGINT NOT NULL,
        received_at TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT pk_events PRIMARY KEY (seq, occurred_at)
    ) PARTITION BY RANGE (occurred_at)""",
    "ALTER SEQUENCE events_seq_seq OWNED BY events.seq",
    "CREATE TABLE events_default PARTITION OF events DEFAULT",
    "CREATE INDEX ix_events_experiment_time ON events (experiment_key, occurred_at)",
    "CREATE INDEX ix_events_name_time ON events (name, occurred_at)",
    "CREATE INDEX ix_events_user_time ON events (user_id, occurred_at)",
]


def _create_partitioned_events() -> None:
    """Daily range partitions are created ahead by the ``events.maintain_partitions`` job; the
    default partition only catches what arrives before its day's partition exists."""
    for statement in PG_EVENTS:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "aggregation_state",
        sa.Column("experiment_key", sa.String(length=100), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("aggregated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")),
        sa.PrimaryKeyConstraint("experiment_key", name=op.f("pk_aggregation_state")),
    )
    op.create_table(
        "event_keys",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_keys")),
    )
    with op.batch_alter_table("event_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_keys_occurred_at"), ["occurred_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _create_partitioned_events()
    else:
        op.create_table(
            "events",
            sa.Column(
                "seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("event_id", sa.String(length=128), nullable=False),
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column("user_id", sa.String(length=200), nullable=False),
            sa.Column("environment", sa.String(length=64), nullable=True),
            sa.Column("experiment_key", sa.String(length=100), nullable=True),
            sa.Column("variant", sa.String(length=100), nullable=True),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column(
                "properties",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
            ),
            sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ts_us", sa.BigInteger(), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        )
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.create_index(
                "ix_events_experiment_time", ["experiment_key", "occurred_at"], unique=False
            )
            batch_op.create_index("ix_events_name_time", ["name", "occurred_at"], unique=False)
            batch_op.create_index("ix_events_user_time", ["user_id", "occurred_at"], unique=False)

    op.create_table(
        "metric_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("numerator_aggregation", sa.String(length=10), nullable=False),
        sa.Column("denominator_event", sa.String(length=100), nullable=True),
        sa.Column("denominator_aggregation", sa.String(length=10), nullable=False),
        sa.Column(
            "conditions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attribution_window_hours", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("winsorize_cap", sa.Float(), nullable=True),
        sa.Column("cuped_pre_window_days", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_definitions")),
        sa.UniqueConstraint("key", name=op.f("uq_metric_definitions_key")),
    )
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_definitions_owner_id"), ["owner_id"], unique=False)

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


def downgrade() -> None:
    with op.batch_alter_table("metric_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_units_unit_id"))

    op.drop_table("metric_units")
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_definitions_owner_id"))

    op.drop_table("metric_definitions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE events CASCADE")
    else:
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.drop_index("ix_events_user_time")
            batch_op.drop_index("ix_events_name_time")
            batch_op.drop_index("ix_events_experiment_time")
        op.drop_table("events")
    with op.batch_alter_table("event_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_keys_occurred_at"))

    op.drop_table("event_keys")
    op.drop_table("aggregation_state")
