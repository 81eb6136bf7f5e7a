"""Where the domains plug their background work into a process (serve and worker alike)."""

from __future__ import annotations

from experimently.runtime import Runtime


def register_jobs(runtime: Runtime) -> None:
    """Register every domain's periodic jobs with the runner (each runs under a lease)."""


async def start_services(runtime: Runtime, *, http: bool) -> None:
    """Start long-running domain services (event writer, ...)."""


async def stop_services(runtime: Runtime) -> None:
    """Stop them, draining what they hold."""
