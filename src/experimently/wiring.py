"""Where the domains plug their services and background work into a process (serve and worker alike)."""

from __future__ import annotations

from experimently.analysis.results import refreshing_results
from experimently.events.wiring import register_event_jobs, register_event_services, start_events, stop_events
from experimently.experiments.assign import AssignmentService
from experimently.experiments.bridge import FlagExperimentBridge
from experimently.experiments.integration import (
    aggregation_specs,
    assignments_provider,
    metric_usage,
    metric_users,
    segment_users,
)
from experimently.experiments.scheduler import run_schedule
from experimently.flags.evaluation import FlagEvaluation
from experimently.flags.rollouts import run_rollout_job
from experimently.metrics.privacy import STATISTICS_PROVIDER
from experimently.metrics.wiring import register_metric_jobs, register_metric_services
from experimently.retention import run_retention
from experimently.runtime import Runtime
from experimently.safety.guardrails import check_guardrails
from experimently.safety.monitor import after_aggregation, rollout_job, wire_rollouts
from experimently.safety.rollouts import rollout_metric_usage
from experimently.sdk.wiring import register_sdk_services
from experimently.webhooks.delivery import deliver


def register_services(runtime: Runtime) -> None:
    """Build the domain services that live for the whole process."""
    register_event_services(runtime)
    register_metric_services(runtime)
    runtime.flags = FlagEvaluation(
        runtime.db, runtime.cache, reload_wait_seconds=runtime.settings.ruleset_reload_wait_seconds
    )
    runtime.assignments = AssignmentService(runtime.db, runtime.cache, runtime.flags, runtime.ingest)
    runtime.experiment_handoff = FlagExperimentBridge(runtime.db, runtime.flags, runtime.assignments)
    runtime.aggregation_specs = aggregation_specs
    runtime.privacy.register(assignments_provider(runtime.cache))
    runtime.segment_users.register(segment_users)
    runtime.metric_users.register(metric_users)
    runtime.metric_usage.register(metric_usage)
    runtime.metric_usage.register(rollout_metric_usage)
    # an erasure retracts statistics: the cached results go with it, on every instance
    runtime.privacy.register(refreshing_results(STATISTICS_PROVIDER, runtime.cache))
    wire_rollouts(runtime)
    register_sdk_services(runtime)


def register_jobs(runtime: Runtime) -> None:
    """Register every domain's periodic jobs with the runner (each runs under a lease)."""
    interval = runtime.settings.job_interval_seconds
    runtime.jobs.register("flags.apply_rollouts", interval, lambda: rollout_job(runtime, run_rollout_job))
    runtime.jobs.register(
        "experiments.run_schedule", interval, lambda: run_schedule(runtime.db, runtime.cache)
    )
    # a backstop only: the checks run right after each aggregation run (metrics.after_aggregation)
    runtime.jobs.register(
        "safety.check_guardrails",
        runtime.settings.aggregation_interval_seconds * 10,
        lambda: check_guardrails(runtime.db, runtime.cache, runtime.settings),
    )
    runtime.after_aggregation = lambda keys: after_aggregation(runtime, keys)
    runtime.jobs.register(
        "webhooks.deliver",
        interval,
        lambda: deliver(runtime.db, runtime.settings, runtime.webhook_transport),
    )
    register_event_jobs(runtime)
    register_metric_jobs(runtime)
    # every retention policy, one job (the name is older than the policies of other domains)
    runtime.jobs.register("events.retention", 3600, lambda: run_retention(runtime.db, runtime.settings))


async def start_services(runtime: Runtime, *, http: bool = False) -> None:
    """Start long-running domain services (event writer, ...)."""
    await start_events(runtime)
    if http:
        runtime.sdk_stream.start()


async def stop_services(runtime: Runtime) -> None:
    """Stop them, draining what they hold."""
    if hasattr(runtime, "sdk_stream"):  # built by register_services
        await runtime.sdk_stream.stop()
    exposures = runtime.flags.exposures if hasattr(runtime, "flags") else None
    if exposures is not None:
        await exposures.stop()
    await stop_events(runtime)
