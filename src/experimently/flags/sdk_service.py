"""Evaluation for applications: the API key fixes the environment; flags that hand their decision to an
experiment get a sticky assignment through the experiments service when it is wired in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experimently.auth.actor import Actor
from experimently.errors import ValidationFailed
from experimently.flags.evaluation import FlagEvaluation, build_context
from experimently.flags.schemas import BatchEvaluateRequest
from experimently.rbac import Permission, require_key_environment
from experimently.runtime import Runtime


def _environment(actor: Actor) -> str:
    return require_key_environment(actor, Permission.EVALUATE, "evaluate")


def _engine(runtime: Runtime) -> FlagEvaluation:
    engine: FlagEvaluation = runtime.services["flags.evaluation"]
    return engine


async def evaluate_one(
    runtime: Runtime, actor: Actor, key: str, context: Mapping[str, Any], default: Any
) -> dict[str, Any]:
    env = _environment(actor)
    bridge = runtime.services.get("experiments.bridge")
    if bridge is not None:
        return await bridge.evaluate_one(env, key, context, default)  # type: ignore[no-any-return]
    return (await _engine(runtime).evaluate(env, key, context, default)).to_dict()


async def evaluate_batch(runtime: Runtime, actor: Actor, body: BatchEvaluateRequest) -> dict[str, Any]:
    """Flags that serve experiments go through the bridge (assignment and exposure, as a single
    evaluation would); the rest take the engine's batch path."""
    env = _environment(actor)
    engine = _engine(runtime)
    bridge = runtime.services.get("experiments.bridge")
    via_bridge: set[str] = await bridge.experiment_flags(env) if bridge is not None else set()
    if body.flag_key is not None:
        if body.users is None:
            raise ValidationFailed(
                "'users' is required with 'flag_key'", [{"path": "users", "message": "required"}]
            )
        contexts = [build_context(u.user_id, u.context) for u in body.users]
        if body.flag_key in via_bridge:
            rows = await bridge.evaluate_many(env, body.flag_key, contexts)  # type: ignore[union-attr]
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
        flags[key] = await bridge.evaluate_one(env, key, context, None)  # type: ignore[union-attr]
    return {"user_id": body.user_id, "flags": flags}


async def sdk_payload(runtime: Runtime, actor: Actor) -> tuple[str, dict[str, Any]]:
    """The flags, segments and experiments of the key's environment (see experimently.sdk.payload)."""
    from experimently.sdk.wiring import sdk_payloads  # the sdk package builds on flags: import late

    built = await sdk_payloads(runtime).get(_environment(actor))
    return built.etag, built.payload
