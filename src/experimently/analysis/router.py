"""Analysis endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from experimently.analysis import service
from experimently.analysis.results import experiment_results
from experimently.analysis.schemas import ComputeRequest, CorrectionName, PowerRequest, ResultsRead
from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope
from experimently.stats import Engine

router = APIRouter(tags=["analysis"])


@router.post("/analysis/compute", response_model=Envelope[dict[str, Any]])
async def compute(actor: ActorDep, body: ComputeRequest) -> Envelope[dict[str, Any]]:
    """Run the analysis from sufficient statistics (for analysts, notebooks and tests)."""
    return Envelope(data=service.compute(actor, body), meta={"intervals_adjusted": False})


@router.post("/analysis/power", response_model=Envelope[dict[str, Any]])
async def plan(actor: ActorDep, body: PowerRequest) -> Envelope[dict[str, Any]]:
    """Sample size, minimum detectable effect or power; days to reach the sample from daily traffic."""
    return Envelope(data=service.plan(actor, body))


@router.get("/experiments/{ref}/results", response_model=Envelope[ResultsRead])
async def results(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    ref: str,
    engine: Engine = Engine.FREQUENTIST,
    cuped: bool = False,
    correction: CorrectionName = "holm",
) -> Envelope[ResultsRead]:
    """Per metric and variant: units, mean, sd, lifts with intervals, p-value, chance to win, risk,
    verdict; SRM and data-quality warnings; the cumulative lift over time."""
    data = await experiment_results(session, runtime.cache, actor, ref, engine, cuped, correction)
    return Envelope(data=ResultsRead.model_validate(data), meta={"intervals_adjusted": False})
