"""Ingestion health: events accepted and rejected (with their reasons) over rolling windows.

Counted in the process that answers the ingestion requests (one bucket per second for the last
minute, one per minute for the last hour); the Prometheus counters (``experimently_events_*``) stay
the fleet-wide view. The queue depth and the age of the oldest queued event come from the pipeline
itself (Redis stream or the in-process queue), so they are the same on every instance.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 60
HOUR_SECONDS = 3600
MAX_REASON = 200  # characters of a reason kept (reasons are field paths and fixed texts)
MAX_REASONS = 100  # distinct reasons kept per minute; the rest are counted under "other"


@dataclass
class IngestHealth:
    clock: Callable[[], float] = time.time
    _seconds: dict[int, int] = field(default_factory=dict)
    _minutes: dict[int, int] = field(default_factory=dict)
    _rejected: dict[int, Counter[str]] = field(default_factory=dict)

    def _prune(self, moment: float) -> None:
        second, minute = int(moment), int(moment // 60)
        for s in [s for s in self._seconds if s <= second - WINDOW_SECONDS]:
            del self._seconds[s]
        for table in (self._minutes, self._rejected):
            for m in [m for m in table if m <= minute - HOUR_SECONDS // 60]:
                del table[m]

    def accepted(self, count: int) -> None:
        if count <= 0:
            return
        moment = self.clock()
        self._prune(moment)
        second, minute = int(moment), int(moment // 60)
        self._seconds[second] = self._seconds.get(second, 0) + count
        self._minutes[minute] = self._minutes.get(minute, 0) + count

    def rejected(self, reason: str, count: int = 1) -> None:
        moment = self.clock()
        self._prune(moment)
        bucket = self._rejected.setdefault(int(moment // 60), Counter())
        key = reason[:MAX_REASON]
        if key not in bucket and len(bucket) >= MAX_REASONS:
            key = "other"
        bucket[key] += count

    def snapshot(self) -> dict[str, Any]:
        """Accepted per second over the last minute, accepted and rejected (by reason, most frequent
        first) over the last hour."""
        moment = self.clock()
        self._prune(moment)
        second = int(moment)
        last_minute = sum(n for s, n in self._seconds.items() if s > second - WINDOW_SECONDS)
        reasons: Counter[str] = Counter()
        for bucket in self._rejected.values():
            reasons.update(bucket)
        return {
            "accepted_per_second": last_minute / WINDOW_SECONDS,
            "accepted_last_hour": sum(self._minutes.values()),
            "rejected_last_hour": [
                {"reason": reason, "count": count}
                for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "window_seconds": WINDOW_SECONDS,
        }
