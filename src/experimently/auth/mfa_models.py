"""TOTP second factor of local accounts: the (encrypted) seed and the one-time recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from experimently.db import Base
from experimently.kit.clock import now
from experimently.kit.ids import new_id
from experimently.kit.orm import UTCDateTime


class UserMfa(Base):
    """One row per account that started enrolment; ``confirmed_at`` set once a first code matched."""

    __tablename__ = "user_mfa"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(500))  # the base32 seed, encrypted with the key ring
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the last TOTP time step accepted: a code of that step or an earlier one is refused (no replay)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    # two-step sign-ins completed: an MFA token carries the count at its issue and is spent by moving it
    logins: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MfaRecoveryCode(Base):
    __tablename__ = "mfa_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
