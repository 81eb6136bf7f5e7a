"""Imports every domain's tables so Alembic and tests see one metadata."""

from experimently.audit.models import AuditLog
from experimently.auth.models import ApiKey, RefreshToken, User
from experimently.db import Base
from experimently.environments.models import Environment
from experimently.jobs.models import JobLease

metadata = Base.metadata

__all__ = ["ApiKey", "AuditLog", "Environment", "JobLease", "RefreshToken", "User", "metadata"]
