"""Safety endpoints: experiment guardrail breaches, guarded flag rollouts, safety settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.experiments import service as experiments
from experimently.kit.envelope import Envelope
from experimently.safety import rollouts
from experimently.safety import settings as safety_settings
from experimently.safety.guardrails import list_breaches
from experimently.safety.schemas import (
    GuardedRolloutAdvance,
    GuardedRolloutCreate,
    GuardedRolloutRead,
    SafetySettingsRead,
    SafetySettingsUpdate,
)

router = APIRouter()  # tags per route: the flag rollouts are documented with the flags


class BreachRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    metric_key: str
    variant: str
    action: str
    relative_lift: float | None
    p_value: float | None
    details: dict[str, Any]
    detected_at: datetime


@router.get(
    "/experiments/{ref}/guardrail-breaches", response_model=Envelope[list[BreachRead]], tags=["safety"]
)
async def breaches(actor: ActorDep, session: SessionDep, ref: str) -> Envelope[list[BreachRead]]:
    """Guardrail breaches of the experiment, oldest first: metric, variant, the action taken (paused or
    notified), relative lift and always-valid p-value, and the comparison the monitor saw."""
    exp = await experiments.get(session, actor, ref)
    rows = await list_breaches(session, exp.id)
    return Envelope(data=[BreachRead.model_validate(r) for r in rows], meta={"total": len(rows)})


# --- guarded rollouts ------------------------------------------------------------------------------

GUARDED = "/feature-flags/{key}/guarded-rollouts"


@router.post(GUARDED, response_model=Envelope[GuardedRolloutRead], status_code=201, tags=["feature flags"])
async def create_guarded_rollout(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, body: GuardedRolloutCreate
) -> Envelope[GuardedRolloutRead]:
    """Start a guarded rollout in one environment: scheduled (``steps``) or manual (``percentage``),
    watched by guardrail metrics (unset fields come from the safety settings); rolled back, paused or
    announced on a breach, released at 100%."""
    rollout = await rollouts.create(session, runtime.cache, runtime.settings, actor, key, body)
    return Envelope(data=await rollouts.present(session, rollout))


@router.get(GUARDED, response_model=Envelope[list[GuardedRolloutRead]], tags=["feature flags"])
async def list_guarded_rollouts(
    actor: ActorDep, session: SessionDep, key: str
) -> Envelope[list[GuardedRolloutRead]]:
    """The flag's guarded rollouts, newest first: status, step, the last check and any breach."""
    rows = await rollouts.list_for(session, actor, key)
    return Envelope(data=[await rollouts.present(session, r) for r in rows], meta={"total": len(rows)})


@router.get(GUARDED + "/{rollout_id}", response_model=Envelope[GuardedRolloutRead], tags=["feature flags"])
async def get_guarded_rollout(
    actor: ActorDep, session: SessionDep, key: str, rollout_id: str
) -> Envelope[GuardedRolloutRead]:
    """One guarded rollout: what the monitor saw at its last check and what it did."""
    return Envelope(data=await rollouts.present(session, await rollouts.get(session, actor, key, rollout_id)))


@router.post(
    GUARDED + "/{rollout_id}/advance", response_model=Envelope[GuardedRolloutRead], tags=["feature flags"]
)
async def advance_guarded_rollout(
    actor: ActorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    key: str,
    rollout_id: str,
    body: GuardedRolloutAdvance,
) -> Envelope[GuardedRolloutRead]:
    """Raise a manual rollout's percentage (a new step, compared afresh; 100% releases it)."""
    rollout = await rollouts.advance(session, runtime.cache, actor, key, rollout_id, body)
    return Envelope(data=await rollouts.present(session, rollout))


@router.post(
    GUARDED + "/{rollout_id}/cancel", response_model=Envelope[GuardedRolloutRead], tags=["feature flags"]
)
async def cancel_guarded_rollout(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, rollout_id: str
) -> Envelope[GuardedRolloutRead]:
    """Stop watching and stop the schedule; the flag stays where it is."""
    rollout = await rollouts.cancel(session, runtime.cache, actor, key, rollout_id)
    return Envelope(data=await rollouts.present(session, rollout))


@router.post(
    GUARDED + "/{rollout_id}/resume", response_model=Envelope[GuardedRolloutRead], tags=["feature flags"]
)
async def resume_guarded_rollout(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, rollout_id: str
) -> Envelope[GuardedRolloutRead]:
    """Resume a paused rollout (acknowledges its breach: the same one is not acted on again)."""
    rollout = await rollouts.resume(session, runtime.cache, actor, key, rollout_id)
    return Envelope(data=await rollouts.present(session, rollout))


# --- safety settings -------------------------------------------------------------------------------


@router.get(
    "/environments/{env}/safety-settings", response_model=Envelope[SafetySettingsRead], tags=["safety"]
)
async def get_safety_settings(actor: ActorDep, session: SessionDep, env: str) -> Envelope[SafetySettingsRead]:
    """The guardrails every guarded rollout in the environment gets unless it names its own."""
    return Envelope(data=await safety_settings.get(session, actor, env))


@router.put(
    "/environments/{env}/safety-settings", response_model=Envelope[SafetySettingsRead], tags=["safety"]
)
async def put_safety_settings(
    actor: ActorDep, session: SessionDep, env: str, body: SafetySettingsUpdate
) -> Envelope[SafetySettingsRead]:
    """Replace the environment's safety settings (admin; versioned: send the version read)."""
    return Envelope(data=await safety_settings.put(session, actor, env, body))


@router.get(
    "/feature-flags/{key}/environments/{env}/safety-settings",
    response_model=Envelope[SafetySettingsRead],
    tags=["feature flags"],
)
async def get_flag_safety_settings(
    actor: ActorDep, session: SessionDep, key: str, env: str
) -> Envelope[SafetySettingsRead]:
    """The flag's override of the environment's safety settings (empty fields: the environment's)."""
    return Envelope(data=await safety_settings.get(session, actor, env, key))


@router.put(
    "/feature-flags/{key}/environments/{env}/safety-settings",
    response_model=Envelope[SafetySettingsRead],
    tags=["feature flags"],
)
async def put_flag_safety_settings(
    actor: ActorDep, session: SessionDep, key: str, env: str, body: SafetySettingsUpdate
) -> Envelope[SafetySettingsRead]:
    """Replace the flag's override in the environment (the flag's owner or an admin)."""
    return Envelope(data=await safety_settings.put(session, actor, env, body, key))
