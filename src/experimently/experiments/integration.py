"""What experiments give the other domains: the running experiments for the aggregation job, and the
assignments for privacy export and erasure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.cache import Cache
from experimently.experiments import repository
from experimently.experiments.models import Experiment
from experimently.experiments.schemas import Status
from experimently.experiments.service import NAMESPACE
from experimently.kit.clock import ensure_utc, iso, now
from experimently.kit.references import segment_keys
from experimently.metrics.aggregation import ExperimentSpec
from experimently.privacy import PrivacyProvider

# How long after its end a completed experiment is still aggregated: events that happened before the
# end and arrive late (an SDK's buffer, a client's retries, a backlog of the writers) still count.
# Events that happened after the end never do (``ExperimentSpec.ended_at``).
SETTLE = timedelta(hours=1)


async def aggregation_specs(session: AsyncSession) -> list[ExperimentSpec]:
    """Running and paused experiments (paused ones still collect conversions of exposed units), and
    completed ones for ``SETTLE`` after their end, bounded by it: the last exposures and conversions
    before the end are in the final numbers even when the end falls between two runs."""
    return [spec_of(exp) for exp in await _aggregated(session)]


async def _aggregated(session: AsyncSession) -> list[Experiment]:
    return list(await repository.aggregated(session, now() - SETTLE))


def settled_at(exp: Experiment) -> datetime | None:
    """When the scheduled runs of a completed experiment stop (its end plus ``SETTLE``)."""
    return ensure_utc(exp.ended_at) + SETTLE if exp.status == Status.COMPLETED and exp.ended_at else None


def aggregated(exp: Experiment, moment: datetime | None = None) -> bool:
    """Whether the scheduled aggregation covers ``exp`` now."""
    if exp.status in (Status.RUNNING, Status.PAUSED):
        return True
    settles = settled_at(exp)
    return settles is not None and (moment or now()) < settles


def spec_of(exp: Experiment) -> ExperimentSpec:
    """What the aggregation of ``exp`` covers."""
    return ExperimentSpec(
        key=exp.key,
        variants=tuple(str(v["key"]) for v in exp.variants),
        metric_keys=tuple(
            dict.fromkeys(
                [
                    *([exp.primary_metric] if exp.primary_metric else []),
                    *exp.secondary_metrics,
                    *exp.guardrail_metrics,
                ]
            )
        ),
        started_at=exp.started_at,
        ended_at=exp.ended_at if exp.status == Status.COMPLETED else None,
    )


async def _export(session: AsyncSession, unit_id: str) -> list[dict[str, Any]]:
    return [
        {"experiment_key": k, "variant": v, "environment": e, "assigned_at": iso(t)}
        for k, v, e, t in await repository.unit_history(session, unit_id)
    ]


async def _erase(session: AsyncSession, unit_id: str) -> int:
    return await repository.delete_unit_assignments(session, unit_id)


def assignments_provider(cache: Cache) -> PrivacyProvider:
    """Export and erase a unit's assignments; an erasure also drops every instance's sticky reads."""

    async def erase(session: AsyncSession, unit_id: str) -> int:
        cache.invalidate_on_commit(session, NAMESPACE)
        return await _erase(session, unit_id)

    return PrivacyProvider("assignments", _export, erase)


async def segment_users(session: AsyncSession, key: str) -> list[dict[str, str]]:
    """Experiments (not archived) whose targeting references segment ``key``."""
    rows = await repository.in_statuses(session, [s.value for s in Status if s is not Status.ARCHIVED])
    return [{"type": "experiment", "key": exp.key} for exp in rows if key in segment_keys(exp.targeting)]


async def metric_usage(session: AsyncSession, key: str) -> list[dict[str, str]]:
    """Every experiment naming metric ``key``, one row per role (primary, secondary, guardrail)."""
    rows = await repository.in_statuses(session, [s.value for s in Status])
    out: list[dict[str, str]] = []
    for exp in rows:
        roles = [
            role
            for role, used in (
                ("primary", key == exp.primary_metric),
                ("secondary", key in exp.secondary_metrics),
                ("guardrail", key in exp.guardrail_metrics),
            )
            if used
        ]
        out.extend(
            {"experiment_key": exp.key, "experiment_name": exp.name, "status": exp.status, "role": role}
            for role in roles
        )
    return out


async def metric_users(session: AsyncSession, key: str) -> list[dict[str, str]]:
    """Experiments (not archived) that name metric ``key``."""
    rows = await repository.in_statuses(session, [s.value for s in Status if s is not Status.ARCHIVED])
    return [
        {"type": "experiment", "key": exp.key}
        for exp in rows
        if key == exp.primary_metric or key in exp.secondary_metrics or key in exp.guardrail_metrics
    ]
