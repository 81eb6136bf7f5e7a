"""The job ``safety.check_guardrails``: every running experiment's guardrail metrics, read from the
statistics the aggregation stores, under the sequential engine (always-valid p-values and intervals,
so checking after every aggregation run does not inflate false alarms).

A **breach** is a treatment variant significantly worse than the control on a guardrail metric (in the
metric's ``direction``) at ``GUARDRAIL_ALPHA``, once every variant with traffic (a weight above 0) has
at least ``GUARDRAIL_MIN_UNITS`` exposed units. On a breach, in one transaction:

- a ``guardrail_breaches`` row (one per experiment, metric and variant: a breach is acted on once);
- an audit record ``guardrail.breached`` as the system actor, and the domain event
  ``experiment.guardrail_breached`` (the outbox a webhook delivery reads);
- with ``guardrail_action = "pause"`` (the default) the experiment is paused like a person would pause
  it: audited ``experiment.pause`` with the breach as the reason, ``experiment.paused`` emitted. A
  paused experiment assigns nobody, so applications serve their default. Resuming it is a person's
  decision and acknowledges the breach: the monitor does not pause again for the same metric and
  variant.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM
from experimently.analysis.results import arms, control_key
from experimently.analysis.schemas import ANALYSED_AS
from experimently.cache import Cache
from experimently.config import Settings
from experimently.db import Database
from experimently.experiments import repository
from experimently.experiments.models import Experiment
from experimently.experiments.schemas import Status
from experimently.experiments.service import NAMESPACE, record_transition
from experimently.kit.clock import iso
from experimently.metrics import repository as metric_repository
from experimently.metrics.aggregation import ExperimentStats, load_snapshot
from experimently.safety import repository as safety_repository
from experimently.safety.models import GuardrailBreach
from experimently.stats import (
    Comparison,
    Engine,
    MetricRole,
    Verdict,
    analyze_metric,
    to_json_dict,
)
from experimently.webhooks.outbox import emit

log = structlog.get_logger(__name__)
BREACHES = Counter(
    "experimently_guardrail_breaches_total",
    "Guardrail breaches found, by action (paused, notified)",
    ["action"],
)


async def check_guardrails(
    db: Database, cache: Cache, settings: Settings, only: set[str] | None = None
) -> int:
    """Check every running experiment that has guardrail metrics (those in ``only``, when given: the
    experiments an aggregation run just moved); returns the new breaches found."""
    async with db.transaction() as session:
        keys = [e.key for e in await repository.in_statuses(session, [Status.RUNNING]) if e.guardrail_metrics]
    found = 0
    for key in keys:
        if only is not None and key not in only:
            continue
        async with db.transaction() as session:
            exp = await repository.get_experiment(session, key, for_update=True)
            if exp is not None and exp.status == Status.RUNNING:
                found += await _check(session, cache, settings, exp)
    return found


async def harmed(
    session: AsyncSession, settings: Settings, exp: Experiment, stats: ExperimentStats
) -> list[tuple[str, Comparison]]:
    """(metric key, comparison) of every guardrail metric and variant that is significantly worse."""
    # a variant weighted 0 gets no traffic (a holdout kept for later, say): it never reaches the
    # minimum, and must not switch the monitor off for the variants that do (the SRM check skips it too)
    served = [str(v["key"]) for v in exp.variants if float(v.get("weight", 0) or 0) > 0]
    if min((stats.units.get(key, 0) for key in served), default=0) < settings.guardrail_min_units:
        return []
    definitions = await metric_repository.by_keys(session, [str(k) for k in exp.guardrail_metrics])
    out: list[tuple[str, Comparison]] = []
    for key, metric in sorted(definitions.items()):
        analysis = analyze_metric(
            ANALYSED_AS[metric.kind],
            arms(exp, stats.metrics.get(key, {})),
            control_key=control_key(exp),
            engine=Engine.SEQUENTIAL,
            alpha=settings.guardrail_alpha,
            lower_is_better=metric.direction == "lower",
            metric_key=key,
            role=MetricRole.GUARDRAIL,
        )
        out += [(key, c) for c in analysis.comparisons if c.verdict == Verdict.LOSER]
    return out


def _describe(metric: str, comparison: Comparison) -> str:
    lift, p = comparison.relative_lift, comparison.p_value
    change = f"{lift:+.1%}" if lift is not None else "changed"
    significance = "" if p is None else ", always-valid p<0.0001" if p < 1e-4 else f", always-valid p={p:.2g}"
    return (
        f"guardrail '{metric}' is significantly worse in '{comparison.variant_key}' ({change}{significance})"
    )


async def _check(session: AsyncSession, cache: Cache, settings: Settings, exp: Experiment) -> int:
    stats = await load_snapshot(session, exp.key)
    if stats is None:
        return 0
    known = await safety_repository.breached_pairs(session, exp.id)
    new = [(m, c) for m, c in await harmed(session, settings, exp, stats) if (m, c.variant_key) not in known]
    if not new:
        return 0
    pause = exp.guardrail_action == "pause"
    action = "paused" if pause else "notified"
    reasons = []
    for metric, comparison in new:
        details: dict[str, Any] = {
            "engine": str(Engine.SEQUENTIAL),
            "alpha": settings.guardrail_alpha,
            "aggregated_at": iso(stats.aggregated_at) if stats.aggregated_at else None,
            "comparison": to_json_dict(comparison),
        }
        breach = GuardrailBreach(
            experiment_id=exp.id,
            experiment_key=exp.key,
            metric_key=metric,
            variant=comparison.variant_key,
            action=action,
            relative_lift=comparison.relative_lift,
            p_value=comparison.p_value,
            details=details,
        )
        session.add(breach)
        reason = _describe(metric, comparison)
        reasons.append(reason)
        summary = {
            "key": exp.key,
            "metric": metric,
            "variant": comparison.variant_key,
            "relative_lift": comparison.relative_lift,
            "p_value": comparison.p_value,
            "action": action,
        }
        audit.record(
            session, SYSTEM, "guardrail.breached", "experiment", exp.id, after=summary, reason=reason
        )
        emit(session, "experiment.guardrail_breached", "experiment", exp.id, summary | {"reason": reason})
        log.warning("safety.guardrail_breached", experiment=exp.key, **summary)
        BREACHES.labels(action).inc()
    if pause:
        record_transition(session, SYSTEM, exp, "pause", Status.PAUSED, "; ".join(reasons))
        cache.invalidate_on_commit(session, NAMESPACE)
    return len(new)


async def list_breaches(session: AsyncSession, experiment_id: str) -> list[GuardrailBreach]:
    return await safety_repository.breaches_of(session, experiment_id)
