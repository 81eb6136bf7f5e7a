"""Imports every domain's tables so Alembic and tests see one metadata."""

from experimently.audit.models import AuditLog
from experimently.auth.mfa_models import MfaRecoveryCode, UserMfa
from experimently.auth.models import ApiKey, RefreshToken, User
from experimently.cache import CacheMark
from experimently.db import Base
from experimently.environments.models import Environment
from experimently.events.models import Event, EventKey
from experimently.experiments.models import Assignment, Experiment, Layer
from experimently.flags.models import Flag, RolloutSchedule
from experimently.jobs.models import JobLease
from experimently.metrics.models import AggregationState, MetricDefinition
from experimently.safety.models import GuardedRollout, GuardrailBreach, SafetySettings
from experimently.segments.models import Segment
from experimently.webhooks.models import DomainEvent, Webhook, WebhookDelivery

metadata = Base.metadata

__all__ = [
    "AggregationState",
    "ApiKey",
    "Assignment",
    "AuditLog",
    "CacheMark",
    "DomainEvent",
    "Environment",
    "Event",
    "EventKey",
    "Experiment",
    "Flag",
    "GuardedRollout",
    "GuardrailBreach",
    "JobLease",
    "Layer",
    "MetricDefinition",
    "MfaRecoveryCode",
    "RefreshToken",
    "RolloutSchedule",
    "SafetySettings",
    "Segment",
    "User",
    "UserMfa",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
