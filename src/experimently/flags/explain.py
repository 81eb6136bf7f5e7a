"""Explain an evaluation for people ("why did this user get this?"): the engine's result and trace.

Read access is enough (no API key): a person with ``flags:read`` picks the environment. Flags that hand
their decision to an experiment are explained without an assignment (nobody is enrolled by looking).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.actor import Actor
from experimently.environments.service import get_environment_by_key
from experimently.flags import service
from experimently.flags.evaluation import FlagEvaluation, build_context
from experimently.flags.schemas import EvaluateRequest
from experimently.rbac import Permission, require, require_environment
from experimently_sdk.explain import explain


async def explain_evaluation(
    session: AsyncSession, engine: FlagEvaluation, actor: Actor, key: str, env: str, body: EvaluateRequest
) -> dict[str, Any]:
    require(actor, Permission.FLAGS_READ)
    require_environment(actor, env)
    await service.get(session, actor, key)  # 404 for an unknown flag
    await get_environment_by_key(session, env)  # 404 for an unknown environment
    context = build_context(body.user_id, body.context)
    snapshot = await engine.snapshot(env)
    explanation = explain(snapshot.evaluator, key, context)
    return {"environment": env, "context": context, **explanation.to_dict()}
