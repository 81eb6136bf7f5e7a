"""``POST /feature-flags/{key}/environments/{env}/explain``: kept beside the flag router, not in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep, SessionDep
from experimently.flags.explain import explain_evaluation
from experimently.flags.router import evaluation
from experimently.flags.schemas import EvaluateRequest
from experimently.kit.envelope import Envelope

router = APIRouter(prefix="/feature-flags", tags=["feature flags"])


@router.post("/{key}/environments/{env}/explain", response_model=Envelope[dict[str, Any]])
async def explain(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key: str, env: str, body: EvaluateRequest
) -> Envelope[dict[str, Any]]:
    """Evaluate for a context and say why: result, reason, matching rule, and each condition tried."""
    return Envelope(data=await explain_evaluation(session, evaluation(runtime), actor, key, env, body))
