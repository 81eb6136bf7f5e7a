"""All SQL of job scheduling: the lease row of each job, taken and released with conditional UPDATEs
(portable: SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.jobs.models import JobLease


async def take_lease(
    session: AsyncSession, name: str, holder: str, moment: datetime, expires: datetime, due: datetime | None
) -> bool:
    """Take an existing lease row when it is free (expired, or already ``holder``'s) and, with ``due``,
    when no run started after ``due``; records ``moment`` as the run's start. False when the row is
    held, not due, or missing (see :func:`insert_lease`)."""
    free = (JobLease.expires_at <= moment) | (JobLease.holder == holder)
    if due is not None:
        free = free & (JobLease.last_started_at.is_(None) | (JobLease.last_started_at <= due))
    result = await session.execute(
        update(JobLease)
        .where(JobLease.name == name, free)
        .values(holder=holder, expires_at=expires, last_started_at=moment)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE has rowcount


def insert_lease(session: AsyncSession, name: str, holder: str, moment: datetime, expires: datetime) -> None:
    """The first lease of a job (a concurrent first insert fails on the primary key at commit)."""
    session.add(JobLease(name=name, holder=holder, expires_at=expires, last_started_at=moment))


async def last_started(session: AsyncSession, name: str) -> datetime | None:
    started: datetime | None = await session.scalar(
        select(JobLease.last_started_at).where(JobLease.name == name)
    )
    return started


async def release_lease(session: AsyncSession, name: str, holder: str, moment: datetime) -> None:
    """End ``holder``'s lease now and record when the run ended."""
    await session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(expires_at=moment, last_run_at=moment)
    )
