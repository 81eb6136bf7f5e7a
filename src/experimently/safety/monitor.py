"""How the safety domain plugs into a process (called from ``experimently.wiring``): flag exposures
for guarded rollouts, the rollouts' aggregations beside the experiments', and the guardrail checks of
both right after each aggregation run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.cache import Cache
from experimently.db import Database
from experimently.flags.exposures import ExposureRecorder
from experimently.flags.rollouts import Hold
from experimently.metrics.aggregation import ExperimentSpec
from experimently.runtime import Runtime
from experimently.safety.guardrails import check_guardrails
from experimently.safety.rollout_monitor import check_rollouts, release_completed
from experimently.safety.rollouts import PREFIX, aggregation_specs, guarded_markers, rollout_metric_users
from experimently.safety.traffic import hold_for_traffic


def wire_rollouts(runtime: Runtime) -> None:
    """Flags record exposures while a guarded rollout runs; the aggregation covers the rollouts too; a
    metric a rollout under way or the safety settings name cannot be deleted."""
    runtime.flags.guarded_loader = guarded_markers
    runtime.metric_users.register(rollout_metric_users)
    runtime.flags.exposures = ExposureRecorder(runtime.pipeline)
    experiments = runtime.aggregation_specs

    async def specs(session: AsyncSession) -> list[ExperimentSpec]:
        found = await experiments(session) if experiments is not None else []
        return [*found, *await aggregation_specs(session)]

    runtime.aggregation_specs = specs


async def after_aggregation(runtime: Runtime, keys: set[str]) -> int:
    """The guardrail checks of what an aggregation run just moved: experiments, then rollouts."""
    experiments = {k for k in keys if not k.startswith(PREFIX)}
    found = 0
    if experiments:
        found += await check_guardrails(runtime.db, runtime.cache, runtime.settings, experiments)
    rollouts = keys - experiments
    if rollouts:
        found += await check_rollouts(runtime.db, runtime.cache, rollouts)
    return found


async def rollout_job(runtime: Runtime, apply: Callable[[Database, Cache, Hold], Awaitable[int]]) -> int:
    """``flags.apply_rollouts``: due schedule steps (a guarded rollout's step held while the step before
    it lacks traffic, ``safety.traffic``), then rollouts that reached 100% are released."""
    applied = await apply(runtime.db, runtime.cache, hold_for_traffic)
    return applied + await release_completed(runtime.db)
