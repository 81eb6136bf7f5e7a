"""Metric definitions CRUD and per-metric daily series."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.metrics import service
from experimently.metrics.schemas import MetricCreate, MetricRead, MetricUpdate, MetricUsage, SeriesPoint

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("", response_model=Envelope[list[MetricRead]])
async def list_metrics(
    actor: ActorDep, session: SessionDep, page: Annotated[Page, Depends(page_params)]
) -> Envelope[list[MetricRead]]:
    """List metric definitions."""
    rows, total = await service.list_metrics(session, actor, page.limit, page.offset)
    return Envelope(data=[MetricRead.model_validate(m) for m in rows], meta=page.meta(total))


@router.post("", response_model=Envelope[MetricRead], status_code=status.HTTP_201_CREATED)
async def create_metric(actor: ActorDep, session: SessionDep, body: MetricCreate) -> Envelope[MetricRead]:
    """Define a metric (its conditions are checked against the SQL-evaluable subset)."""
    return Envelope(data=MetricRead.model_validate(await service.create(session, actor, body)))


@router.get("/{key}", response_model=Envelope[MetricRead])
async def get_metric(actor: ActorDep, session: SessionDep, key: str) -> Envelope[MetricRead]:
    """One metric definition."""
    return Envelope(data=MetricRead.model_validate(await service.get(session, actor, key)))


@router.patch("/{key}", response_model=Envelope[MetricRead])
async def update_metric(
    actor: ActorDep, session: SessionDep, key: str, body: MetricUpdate
) -> Envelope[MetricRead]:
    """Change a metric; ``version`` must be the current one (409 when stale)."""
    return Envelope(data=MetricRead.model_validate(await service.update(session, actor, key, body)))


@router.delete("/{key}", response_model=Envelope[MetricRead])
async def delete_metric(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str
) -> Envelope[MetricRead]:
    """Delete a metric definition (audited with its last state); 409 while an experiment, a guarded
    rollout under way or safety settings name it (``details.used_by``)."""
    metric = await service.delete(session, actor, key, runtime.metric_users)
    return Envelope(data=MetricRead.model_validate(metric))


@router.get("/{key}/usage", response_model=Envelope[list[MetricUsage]])
async def metric_usage(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str
) -> Envelope[list[MetricUsage]]:
    """Where the metric is used: experiments with its role (primary, secondary, guardrail) and guarded
    flag rollouts (rollout_guardrail, rollout_success, with ``flag_key``)."""
    rows = await service.usage(session, actor, key, runtime.metric_usage)
    return Envelope(data=[MetricUsage.model_validate(r) for r in rows])


@router.get("/{key}/series", response_model=Envelope[list[SeriesPoint]])
async def metric_series(
    actor: ActorDep, session: SessionDep, key: str, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Envelope[list[SeriesPoint]]:
    """Daily events, distinct units and value sum of the metric's event."""
    return Envelope(data=await service.series(session, actor, key, days))
