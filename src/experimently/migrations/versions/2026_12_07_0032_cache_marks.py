"""cache_marks: invalidations counted in the database, for deployments without Redis

Each invalidation of a cache namespace counts up its row; a running server reads the counts every
second and drops the namespaces another process (the CLI, a second server on the same database)
invalidated, so a kill switch thrown from the CLI takes effect within about a second rather than when
the in-memory copies expire. With Redis, pub/sub does this and the table stays empty.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_marks",
        sa.Column("namespace", sa.String(length=100), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_cache_marks")),
    )


def downgrade() -> None:
    op.drop_table("cache_marks")
