"""Evaluation for applications: the API key fixes the environment; flags that hand their decision to an
experiment go through the experiment hand-off when one is wired in (the rest never leave flags)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from experimently.actor import Actor
from experimently.errors import ValidationFailed
from experimently.flags.evaluation import build_context
from experimently.flags.schemas import BatchEvaluateRequest
from experimently.rbac import Permission, require_key_environment
from experimently.runtime import Runtime

if TYPE_CHECKING:
    from experimently.sdk.payload import SdkPayload


def _environment(actor: Actor) -> str:
    return require_key_environment(actor, Permission.EVALUATE, "evaluate")


async def _served(runtime: Runtime, env: str) -> Mapping[str, list[str]]:
    """The environment's flags that hand a decision to experiments (flag -> experiment keys); nothing
    when no hand-off is wired in."""
    if runtime.experiment_handoff is None:
        return {}
    return (await runtime.flags.snapshot(env)).experiments


async def _evaluate_one(
    runtime: Runtime, env: str, key: str, context: Mapping[str, Any], default: Any
) -> dict[str, Any]:
    experiments = (await _served(runtime, env)).get(key)
    if experiments and runtime.experiment_handoff is not None:
        return await runtime.experiment_handoff.evaluate_flag(env, key, experiments, context, default)
    return (await runtime.flags.evaluate(env, key, context, default)).to_dict()


async def _evaluate_many(
    runtime: Runtime, env: str, key: str, contexts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    experiments = (await _served(runtime, env)).get(key)
    if experiments and runtime.experiment_handoff is not None:
        return await runtime.experiment_handoff.evaluate_many(env, key, experiments, contexts)
    return [r.to_dict() for r in await runtime.flags.evaluate_many(env, key, contexts)]


async def evaluate_one(
    runtime: Runtime, actor: Actor, key: str, context: Mapping[str, Any], default: Any
) -> dict[str, Any]:
    return await _evaluate_one(runtime, _environment(actor), key, context, default)


async def evaluate_batch(runtime: Runtime, actor: Actor, body: BatchEvaluateRequest) -> dict[str, Any]:
    """Flags that serve experiments go through the bridge (assignment and exposure, as a single
    evaluation would); the rest take the engine's batch path."""
    env = _environment(actor)
    engine = runtime.flags
    via_bridge = set(await _served(runtime, env))
    if body.flag_key is not None:
        if body.users is None:
            raise ValidationFailed(
                "'users' is required with 'flag_key'", [{"path": "users", "message": "required"}]
            )
        contexts = [build_context(u.user_id, u.context) for u in body.users]
        if body.flag_key in via_bridge:
            rows = await _evaluate_many(runtime, env, body.flag_key, contexts)
            return {"flag_key": body.flag_key, "results": rows}
        results = await engine.evaluate_many(env, body.flag_key, contexts)
        return {"flag_key": body.flag_key, "results": [r.to_dict() for r in results]}
    if body.users is not None:
        raise ValidationFailed(
            "'users' needs 'flag_key'", [{"path": "flag_key", "message": "required with users"}]
        )
    context = build_context(body.user_id, body.context)
    flags = {k: r.to_dict() for k, r in (await engine.evaluate_all(env, context)).items()}
    for key in via_bridge & set(flags):
        flags[key] = await _evaluate_one(runtime, env, key, context, None)
    return {"user_id": body.user_id, "flags": flags}


async def sdk_payload(runtime: Runtime, actor: Actor) -> SdkPayload:
    """The flags, segments and experiments of the key's environment (see experimently.sdk.payload),
    with its ETag and its encoded answer."""
    return await runtime.sdk_payloads.get(_environment(actor))
