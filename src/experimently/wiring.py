"""Where the domains plug their services and background work into a process (serve and worker alike)."""

from __future__ import annotations

from experimently.events.wiring import register_event_jobs, register_event_services, start_events, stop_events
from experimently.experiments.assign import AssignmentService
from experimently.experiments.bridge import FlagExperimentBridge
from experimently.experiments.integration import (
    aggregation_specs,
    assignments_provider,
    metric_users,
    segment_users,
)
from experimently.experiments.scheduler import run_schedule
from experimently.flags.evaluation import FlagEvaluation
from experimently.flags.rollouts import run_rollout_job
from experimently.metrics.service import METRIC_USERS
from experimently.privacy import register as register_privacy
from experimently.runtime import Runtime
from experimently.safety.guardrails import check_guardrails
from experimently.sdk.wiring import register_sdk_services, sdk_stream
from experimently.segments.service import SEGMENT_USERS
from experimently.webhooks.delivery import deliver


def register_services(runtime: Runtime) -> None:
    """Build the domain services that live for the whole process."""
    flags = FlagEvaluation(runtime.db, runtime.cache)
    assignments = AssignmentService(runtime.db, runtime.cache, runtime.services)
    runtime.services["flags.evaluation"] = flags
    runtime.services["experiments.assignments"] = assignments
    runtime.services["experiments.bridge"] = FlagExperimentBridge(runtime.db, flags, assignments)
    runtime.services["experiments.specs"] = aggregation_specs
    register_privacy(assignments_provider(runtime.cache))
    SEGMENT_USERS.register(segment_users)
    METRIC_USERS.register(metric_users)
    register_event_services(runtime)
    register_sdk_services(runtime)


def register_jobs(runtime: Runtime) -> None:
    """Register every domain's periodic jobs with the runner (each runs under a lease)."""
    interval = runtime.settings.job_interval_seconds
    runtime.jobs.register(
        "flags.apply_rollouts", interval, lambda: run_rollout_job(runtime.db, runtime.cache)
    )
    runtime.jobs.register(
        "experiments.run_schedule", interval, lambda: run_schedule(runtime.db, runtime.cache)
    )
    runtime.jobs.register(
        "safety.check_guardrails",
        runtime.settings.aggregation_interval_seconds,
        lambda: check_guardrails(runtime.db, runtime.cache, runtime.settings),
    )
    runtime.jobs.register(
        "webhooks.deliver",
        interval,
        lambda: deliver(runtime.db, runtime.settings, runtime.services.get("webhooks.transport")),
    )
    register_event_jobs(runtime)


async def start_services(runtime: Runtime, *, http: bool) -> None:
    """Start long-running domain services (event writer, ...)."""
    await start_events(runtime)
    if http:
        sdk_stream(runtime).start()


async def stop_services(runtime: Runtime) -> None:
    """Stop them, draining what they hold."""
    await sdk_stream(runtime).stop()
    await stop_events(runtime)
