"""How the events domain plugs into a process (called from ``experimently.wiring``)."""

from __future__ import annotations

import structlog

from experimently.events.ingest import EventIngest
from experimently.events.partitions import maintain_partitions
from experimently.events.pii import reencrypt_events
from experimently.events.pipeline import EmbeddedPipeline, Pipeline, StreamPipeline
from experimently.events.privacy import events_provider
from experimently.runtime import Runtime

log = structlog.get_logger(__name__)


def register_event_services(runtime: Runtime) -> None:
    pipeline: Pipeline
    if runtime.redis is not None:
        pipeline = StreamPipeline(runtime.db, runtime.redis, runtime.settings, runtime.jobs.holder)
    else:
        if not runtime.settings.event_writer:
            log.warning("events.writer_required", reason="no Redis: the embedded queue is written in-process")
        pipeline = EmbeddedPipeline(runtime.db, runtime.settings)
    runtime.pipeline = pipeline
    runtime.ingest = EventIngest(runtime.settings, pipeline)
    runtime.privacy.register(events_provider(runtime.keyring))
    runtime.reencrypt_walkers["events.properties"] = reencrypt_events


def register_event_jobs(runtime: Runtime) -> None:
    db, settings = runtime.db, runtime.settings
    runtime.jobs.register("events.maintain_partitions", 3600, lambda: maintain_partitions(db, settings))


async def start_events(runtime: Runtime) -> None:
    """Partitions for today exist before the first write; then the writer starts."""
    try:
        await maintain_partitions(runtime.db, runtime.settings)
    except Exception as exc:  # another instance may be creating them; the job retries
        log.warning("events.partitions_failed", error=repr(exc))
    await runtime.pipeline.start()


async def stop_events(runtime: Runtime) -> None:
    pipeline: Pipeline | None = getattr(runtime, "pipeline", None)  # absent when wiring never ran
    if pipeline is not None:
        await pipeline.stop()
