"""user_mfa.logins: how many two-step sign-ins the account completed

An MFA token (the proof that the password step passed) carries the count at its issue; the second
step spends it with one conditional UPDATE (``logins = n`` -> ``n + 1``), so a token completes one
sign-in at most, even presented twice at once or with two different codes. ``0`` for the accounts
that existed before, whose older tokens (without the count) are refused: they lived five minutes.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_mfa") as batch:
        batch.add_column(sa.Column("logins", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("user_mfa") as batch:
        batch.drop_column("logins")
