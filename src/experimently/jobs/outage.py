"""How the job loop rides out an outage: one warning when its passes start failing (with the reason and
the dependency), a capped exponential backoff with jitter between attempts instead of a retry every
tick, and one line when a pass succeeds again, with how long the outage lasted.

Before a failing loop declares itself recovered it pings the database (``Database.ping``), so a pass
that simply had no job due is never mistaken for a recovery.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import structlog

from experimently.degraded import DATABASE, dependency_of

log = structlog.get_logger(__name__)


@dataclass
class LoopHealth:
    """The failure state of one job loop. ``failed`` returns the seconds to wait before the next
    attempt: ``base``, doubling per consecutive failure up to ``cap``, each drawn between half and all of
    it (jitter, so the instances of a fleet do not retry in step)."""

    base: float
    cap: float
    failing_since: float | None = None
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def failed(self, exc: BaseException) -> float:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            dependency = dependency_of(exc)
            if dependency == "network":  # a refused socket: every pass starts with the lease's query
                dependency = DATABASE
            if dependency is not None:
                log.warning("jobs.loop_waiting", dependency=dependency, error=repr(exc))
            else:  # not an outage: a defect, logged with its traceback (once per failing streak)
                log.error("jobs.loop_failing", error=repr(exc), exc_info=exc)
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return self._random.uniform(ceiling / 2, ceiling)

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.info(
                "jobs.loop_recovered",
                outage_seconds=round(time.monotonic() - self.failing_since, 3),
                attempts=self.failures,
            )
        self.failing_since = None
        self.failures = 0
