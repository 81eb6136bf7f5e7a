"""The job ``experiments.run_schedule``: starts scheduled experiments at their planned start and
completes running or paused ones at their planned end. Runs under a lease, is idempotent, and catches up
after downtime (whatever is due is done on the next run). Audited as the system actor."""

from __future__ import annotations

from experimently.actor import SYSTEM
from experimently.cache import Cache
from experimently.db import Database
from experimently.experiments import repository
from experimently.experiments.schemas import Status
from experimently.experiments.service import NAMESPACE, record_transition
from experimently.kit.clock import ensure_utc, now


async def run_schedule(db: Database, cache: Cache) -> int:
    """Returns how many transitions were made."""
    moment = now()
    changed = 0
    async with db.transaction() as session:
        for exp in await repository.in_statuses(session, [Status.SCHEDULED, Status.RUNNING, Status.PAUSED]):
            steps = []
            if (
                exp.status == Status.SCHEDULED
                and exp.planned_start
                and ensure_utc(exp.planned_start) <= moment
            ):
                steps.append(("start", Status.RUNNING))
            ends = exp.planned_end is not None and ensure_utc(exp.planned_end) <= moment
            if ends and (steps or exp.status in (Status.RUNNING, Status.PAUSED)):
                steps.append(("complete", Status.COMPLETED))
            for action, target in steps:  # after downtime both may be due: started, then completed
                record_transition(session, SYSTEM, exp, action, target, "schedule")
                changed += 1
        if changed:
            cache.invalidate_on_commit(session, NAMESPACE)
    return changed
