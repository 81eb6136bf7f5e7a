"""Experiments: management (people, ``manage`` keys), lifecycle, layers, and assignment for applications
(``evaluate`` keys; the key fixes the environment)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from experimently.actor import Actor
from experimently.analysis.results import aggregate_now
from experimently.analysis.schemas import AggregateRead
from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import errors
from experimently.experiments import service
from experimently.experiments.assign import AssignmentService
from experimently.experiments.schemas import (
    AssignmentHistoryItem,
    AssignmentRead,
    AssignRequest,
    BulkAssignRequest,
    ExperimentCreate,
    ExperimentRead,
    ExperimentUpdate,
    LayerCreate,
    LayerRead,
    ShipRequest,
    Status,
    TransitionRequest,
)
from experimently.kit.envelope import Envelope, Page, page_params
from experimently.rbac import Permission, require_key_environment
from experimently.runtime import Runtime

router = APIRouter(prefix="/experiments", tags=["experiments"])
layers_router = APIRouter(prefix="/layers", tags=["experiments"])
Action = Literal["schedule", "unschedule", "start", "pause", "resume", "complete", "archive"]
Sort = Literal["created_at", "-created_at", "name", "-name", "key", "-key", "updated_at", "-updated_at"]


def _read(exp: object) -> ExperimentRead:
    return ExperimentRead.model_validate(exp)


def _assigner(runtime: Runtime) -> AssignmentService:
    return runtime.assignments


def _environment(actor: Actor) -> str:
    return require_key_environment(actor, Permission.EVALUATE, "evaluate")


@router.get("", response_model=Envelope[list[ExperimentRead]])
async def list_experiments(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    status_: Annotated[Status | None, Query(alias="status")] = None,
    owner: str | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Sort = "-created_at",
) -> Envelope[list[ExperimentRead]]:
    """List experiments with filters (status, owner, tag, text), sorting and pagination."""
    rows, total = await service.list_experiments(
        session,
        actor,
        status=status_,
        owner=owner,
        tag=tag,
        text=q,
        sort=sort,
        limit=page.limit,
        offset=page.offset,
    )
    return Envelope(data=[_read(r) for r in rows], meta=page.meta(total))


@router.post("", response_model=Envelope[ExperimentRead], status_code=status.HTTP_201_CREATED)
async def create_experiment(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, body: ExperimentCreate
) -> Envelope[ExperimentRead]:
    """Create an experiment (status draft)."""
    return Envelope(data=_read(await service.create(session, runtime.cache, actor, body)))


@router.post("/assign-all", response_model=Envelope[list[AssignmentRead]])
async def assign_all(
    actor: ActorDep, runtime: RuntimeDep, body: AssignRequest
) -> Envelope[list[AssignmentRead]]:
    """Every running experiment of the key's environment for one unit."""
    env = _environment(actor)
    return Envelope(data=await _assigner(runtime).assign_all(None, env, body))


@router.get("/units/{unit_id:path}/assignments", response_model=Envelope[list[AssignmentHistoryItem]])
async def assignment_history(
    actor: ActorDep, session: SessionDep, unit_id: str
) -> Envelope[list[AssignmentHistoryItem]]:
    """A unit's assignment history across experiments (an API key sees its own environment only)."""
    rows = await service.assignment_history(session, actor, unit_id)
    return Envelope(data=[AssignmentHistoryItem.model_validate(r) for r in rows])


@router.get("/{ref}", response_model=Envelope[ExperimentRead])
async def get_experiment(actor: ActorDep, session: SessionDep, ref: str) -> Envelope[ExperimentRead]:
    """One experiment, by id or key."""
    return Envelope(data=_read(await service.get(session, actor, ref)))


@router.patch("/{ref}", response_model=Envelope[ExperimentRead])
async def update_experiment(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, ref: str, body: ExperimentUpdate
) -> Envelope[ExperimentRead]:
    """Change an experiment; what is editable depends on its status; ``version`` must be current."""
    return Envelope(data=_read(await service.update(session, runtime.cache, actor, ref, body)))


@router.post("/{key}/assign", response_model=Envelope[AssignmentRead])
async def assign(
    actor: ActorDep, runtime: RuntimeDep, key: str, body: AssignRequest
) -> Envelope[AssignmentRead]:
    """Assign one unit (sticky); or say why it is not in the experiment."""
    # no request session: a repeat needs no database, a first assignment is group-committed
    env = _environment(actor)
    return Envelope(data=(await _assigner(runtime).assign_many(None, env, key, [body]))[0])


@router.post("/{key}/assign/bulk", response_model=Envelope[list[AssignmentRead]])
async def assign_bulk(
    actor: ActorDep, runtime: RuntimeDep, key: str, body: BulkAssignRequest
) -> Envelope[list[AssignmentRead]]:
    """Assign up to 1,000 units in one call."""
    env = _environment(actor)
    return Envelope(data=await _assigner(runtime).assign_many(None, env, key, body.units))


@router.post("/{ref}/aggregate", response_model=Envelope[AggregateRead], responses=errors(409))
async def aggregate(actor: ActorDep, runtime: RuntimeDep, ref: str) -> Envelope[AggregateRead]:
    """Run the metric aggregation of this experiment now (running or paused; 409 otherwise), then
    its guardrail checks; audited. It first waits, up to 5 s, for the events accepted before the call
    to be written (``events_waiting``: 0 when they were). The results endpoint serves the fresh numbers
    right after."""
    data = await aggregate_now(
        runtime.db,
        runtime.cache,
        actor,
        ref,
        runtime.aggregation_specs,
        runtime.after_aggregation,
        settle=runtime.pipeline.settle,
    )
    return Envelope(data=AggregateRead.model_validate(data))


@router.post("/{ref}/ship", response_model=Envelope[ExperimentRead], responses=errors(409))
async def ship(actor: ActorDep, runtime: RuntimeDep, ref: str, body: ShipRequest) -> Envelope[ExperimentRead]:
    """Ship a variant (usually the winner): the experiment is completed if it was running or paused, and
    every flag rule serving it in its environment serves that variant's variation from then on, to the
    same users; the decision is kept in ``shipped``. 409 once shipped or for a draft, scheduled or
    archived experiment; 422 when a rule maps no variation to the variant; all or nothing. With
    ``dry_run`` nothing changes: the answer is what the experiment would be (``meta.dry_run``)."""
    read = await service.ship_variant(
        runtime.db, runtime.cache, actor, ref, body.variant, body.reason, dry_run=body.dry_run
    )
    return Envelope(data=read, meta={"dry_run": True} if body.dry_run else {})


@router.post("/{ref}/{action}", response_model=Envelope[ExperimentRead], responses=errors(409))
async def transition(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    ref: str,
    action: Action,
    body: TransitionRequest | None = None,
) -> Envelope[ExperimentRead]:
    """Lifecycle: start, pause, resume, complete, archive, schedule, unschedule (409 when not allowed)."""
    reason = body.reason if body else None
    return Envelope(data=_read(await service.transition(session, runtime.cache, actor, ref, action, reason)))


@layers_router.get("", response_model=Envelope[list[LayerRead]])
async def list_layers(actor: ActorDep, session: SessionDep) -> Envelope[list[LayerRead]]:
    """Layers with their allocations and free capacity."""
    return Envelope(data=await service.list_layers(session, actor))


@layers_router.post("", response_model=Envelope[LayerRead], status_code=status.HTTP_201_CREATED)
async def create_layer(actor: ActorDep, session: SessionDep, body: LayerCreate) -> Envelope[LayerRead]:
    """Create a mutual-exclusion layer."""
    return Envelope(data=await service.create_layer(session, actor, body))
