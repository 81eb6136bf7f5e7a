"""Imports every domain's tables so Alembic and tests see one metadata."""

from experimently.audit.models import AuditLog
from experimently.auth.models import ApiKey, RefreshToken, User
from experimently.db import Base
from experimently.environments.models import Environment
from experimently.flags.models import Flag, RolloutSchedule
from experimently.jobs.models import JobLease
from experimently.segments.models import Segment

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditLog",
    "Environment",
    "Flag",
    "JobLease",
    "RefreshToken",
    "RolloutSchedule",
    "Segment",
    "User",
    "metadata",
]
