"""Where the domains plug their services and background work into a process (serve and worker alike)."""

from __future__ import annotations

from experimently.flags.evaluation import FlagEvaluation
from experimently.flags.rollouts import run_rollout_job
from experimently.runtime import Runtime


def register_services(runtime: Runtime) -> None:
    """Build the domain services that live for the whole process."""
    runtime.services["flags.evaluation"] = FlagEvaluation(runtime.db, runtime.cache)


def register_jobs(runtime: Runtime) -> None:
    """Register every domain's periodic jobs with the runner (each runs under a lease)."""
    interval = runtime.settings.job_interval_seconds
    runtime.jobs.register(
        "flags.apply_rollouts", interval, lambda: run_rollout_job(runtime.db, runtime.cache)
    )


async def start_services(runtime: Runtime, *, http: bool) -> None:
    """Start long-running domain services (event writer, ...)."""


async def stop_services(runtime: Runtime) -> None:
    """Stop them, draining what they hold."""
