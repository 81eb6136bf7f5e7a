"""Analysis endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from experimently.analysis import service
from experimently.analysis.results import experiment_results
from experimently.analysis.schemas import (
    DEFAULT_LOSE_THRESHOLD,
    DEFAULT_WIN_THRESHOLD,
    ComputeRequest,
    CorrectionName,
    PowerRequest,
    ResultsRead,
    threshold_problem,
)
from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import ValidationFailed
from experimently.kit.envelope import Envelope
from experimently.stats import Engine

router = APIRouter(tags=["analysis"])


@router.post("/analysis/compute", response_model=Envelope[dict[str, Any]])
async def compute(actor: ActorDep, body: ComputeRequest) -> Envelope[dict[str, Any]]:
    """Run the analysis from sufficient statistics (for analysts, notebooks and tests). The answer says
    which correction it applied (``correction_detail``; Holm by default), the Bayesian thresholds it
    used, and the weights of the SRM check: without ``weights`` no SRM check is run (warning
    ``SRM_WEIGHTS_MISSING``), never one against assumed equal weights."""
    return Envelope(data=service.compute(actor, body), meta={"intervals_adjusted": False})


@router.post("/analysis/power", response_model=Envelope[dict[str, Any]])
async def plan(actor: ActorDep, body: PowerRequest) -> Envelope[dict[str, Any]]:
    """Sample size, minimum detectable effect or power; days to reach the sample from daily traffic.
    Input it cannot use (a binomial baseline outside (0, 1), a missing variance...) is a 422 whose
    message says what to send."""
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
    win_threshold: Annotated[
        float,
        Query(description="Bayesian: chance to win at or above which a variant wins", allow_inf_nan=False),
    ] = DEFAULT_WIN_THRESHOLD,
    lose_threshold: Annotated[
        float, Query(description="Bayesian: chance to win at or below which it loses", allow_inf_nan=False)
    ] = DEFAULT_LOSE_THRESHOLD,
) -> Envelope[ResultsRead]:
    """Per metric and variant: units, mean, sd, lifts with intervals, p-value, chance to win, risk,
    verdict, the metric as defined and a plain-language summary; SRM (against the experiment's
    weights) and data-quality warnings; the cumulative lift over time. ``meta`` says when the data
    was last aggregated and when the next run is due."""
    problem = threshold_problem(win_threshold, lose_threshold)
    if problem:
        raise ValidationFailed(problem, [{"path": "win_threshold", "message": problem}])
    data, meta = await experiment_results(
        session,
        runtime.cache,
        actor,
        ref,
        engine,
        cuped,
        correction,
        thresholds=(win_threshold, lose_threshold),
        interval_seconds=runtime.settings.aggregation_interval_seconds,
    )
    return Envelope(data=ResultsRead.model_validate(data), meta=meta)
