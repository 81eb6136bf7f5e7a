"""How the metrics domain plugs into a process (called from ``experimently.wiring``): its aggregation
job and its privacy provider. Retention of its statistics is a policy in ``experimently.retention``."""

from __future__ import annotations

from experimently.metrics.aggregation import run_aggregation
from experimently.metrics.privacy import STATISTICS_PROVIDER
from experimently.runtime import Runtime


def register_metric_services(runtime: Runtime) -> None:
    runtime.privacy.register(STATISTICS_PROVIDER)


def register_metric_jobs(runtime: Runtime) -> None:
    runtime.jobs.register(
        "metrics.aggregate",
        runtime.settings.aggregation_interval_seconds,
        lambda: run_aggregation(runtime.db, runtime.aggregation_specs, runtime.after_aggregation),
    )
